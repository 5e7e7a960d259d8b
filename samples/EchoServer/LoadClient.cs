using System.Diagnostics;
using System.IO.Pipelines;
using MNet.Transport.Hosting;

namespace EchoServer;

/// <summary>The "load" command: N connections each stream their share of M bytes through the echo and verify it.</summary>
internal static class LoadClient
{
    private const int WelcomeLength = 20; // "Welcome to echoServ\n"

    public static async Task<int> RunAsync(SampleArguments arguments)
    {
        int connections = (int)arguments.Number("connections", 64, max: 65_536);
        long totalBytes = arguments.Number("bytes", 64L * 1024 * 1024, max: long.MaxValue);
        long perConnection = Math.Max(1, totalBytes / connections);
        await using MNetConnectionFactory factory = new();

        Stopwatch elapsed = Stopwatch.StartNew();
        long[] echoed = await Task.WhenAll(Enumerable.Range(0, connections)
            .Select(_ => EchoAsync(factory, arguments.RemoteEndPoint(), perConnection)));
        elapsed.Stop();

        long moved = echoed.Sum();
        double megabytesPerSecond = moved / elapsed.Elapsed.TotalSeconds / 1e6;
        Console.WriteLine($"{connections} connections echoed {moved:N0} bytes in {elapsed.Elapsed.TotalSeconds:F2} s: {megabytesPerSecond:F0} MB/s each way");
        return moved == perConnection * connections ? 0 : 1;
    }

    private static async Task<long> EchoAsync(MNetConnectionFactory factory, System.Net.EndPoint endPoint, long bytes)
    {
        await using ConnectionContext connection = await factory.ConnectAsync(endPoint);
        Task sending = Task.Run(async () =>
        {
            byte[] block = new byte[64 * 1024];
            for (long sent = 0; sent < bytes; sent += block.Length)
            {
                await connection.Transport.Output.WriteAsync(block.AsMemory(0, (int)Math.Min(block.Length, bytes - sent)));
            }
            await connection.Transport.Output.CompleteAsync();
        });

        long received = -WelcomeLength;
        PipeReader input = connection.Transport.Input;
        while (true)
        {
            ReadResult read = await input.ReadAsync();
            received += read.Buffer.Length;
            input.AdvanceTo(read.Buffer.End);
            if (read.IsCompleted)
            {
                break;
            }
        }
        await sending;
        return received;
    }
}
