using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Text;
using MNet.Transport.Hosting;
using MNet.Transport.Tls;

namespace EchoServer;

/// <summary>The "client" command: sends each line of stdin, prints the echo; exits at end of input.</summary>
internal static class InteractiveClient
{
    public static async Task<int> RunAsync(SampleArguments arguments)
    {
        await using MNetConnectionFactory factory = new();
        await using ConnectionContext connection = arguments.Option("tls") is { } tls
            ? await factory.ConnectTlsAsync(ArgumentText.ParseIPEndPoint(tls, "--tls endpoint"), TlsOptions(arguments))
            : await factory.ConnectAsync(arguments.RemoteEndPoint());
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

    /// <summary>
    /// The system's certificate validation, unless --thumbprint pins the server's certificate (as for the self-signed
    /// one "serve --tls" makes; it prints the thumbprint).
    /// </summary>
    private static SslClientAuthenticationOptions TlsOptions(SampleArguments arguments)
    {
        SslClientAuthenticationOptions options = new() { TargetHost = arguments.Option("host") ?? "localhost" };
        if (arguments.Option("thumbprint") is { } thumbprint)
        {
            options.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                string.Equals(certificate?.GetCertHashString(), thumbprint, StringComparison.OrdinalIgnoreCase);
        }
        return options;
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
