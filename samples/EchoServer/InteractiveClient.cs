using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using MNet.Transport.Hosting;

namespace EchoServer;

/// <summary>The "client" command: sends each line of stdin, prints the echo; exits at end of input.</summary>
internal static class InteractiveClient
{
    public static async Task<int> RunAsync(SampleArguments arguments)
    {
        await using MNetConnectionFactory factory = new();
        await using ConnectionContext connection = await factory.ConnectAsync(arguments.RemoteEndPoint());
        PipeReader input = connection.Transport.Input;

        Console.Write(await ReadLineAsync(input)); // the welcome
        while (Console.ReadLine() is { } line)
        {
            await connection.Transport.Output.WriteAsync(Encoding.UTF8.GetBytes(line + "\n"));
            string? reply = await ReadLineAsync(input);
            if (reply is null)
            {
                Console.Error.WriteLine("the server closed the connection");
                return 1;
            }
            Console.Write(reply);
        }
        await connection.Transport.Output.CompleteAsync();
        return 0;
    }

    private static async Task<string?> ReadLineAsync(PipeReader input)
    {
        while (true)
        {
            ReadResult read = await input.ReadAsync();
            ReadOnlySequence<byte> buffer = read.Buffer;
            if (buffer.PositionOf((byte)'\n') is { } end)
            {
                ReadOnlySequence<byte> line = buffer.Slice(0, buffer.GetPosition(1, end));
                string text = Encoding.UTF8.GetString(line);
                input.AdvanceTo(line.End);
                return text;
            }
            input.AdvanceTo(buffer.Start, buffer.End);
            if (read.IsCompleted)
            {
                return null;
            }
        }
    }
}
