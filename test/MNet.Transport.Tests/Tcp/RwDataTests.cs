using System.Net.Sockets;
using MNet.Transport.Tests.Infrastructure;

namespace MNet.Transport.Tests.Tcp;

/// <summary>m_net's test_rwdata: a large byte stream echoed and verified, both directions at once.</summary>
public sealed class RwDataTests
{
    private const long OneGiB = 1L << 30;

    [Theory]
    [MemberData(nameof(Transports.MNet), MemberType = typeof(Transports))]
    public async Task OneGiB_EchoedBothWaysAtOnce_ArrivesIntact_WithBoundedMemory(TransportKind kind)
    {
        await using EchoServer server = await EchoServer.StartAsync(Transports.CreateFactory(kind));
        using Socket client = new(server.EndPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(server.EndPoint);

        GC.Collect();
        GC.WaitForPendingFinalizers();
        long rssBaseline = ProcessResources.ResidentBytes;
        long rssPeak = rssBaseline;
        using CancellationTokenSource done = new();
        Task sampler = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                rssPeak = Math.Max(rssPeak, ProcessResources.ResidentBytes);
                await Task.Delay(50);
            }
        });

        Task sending = SendPatternAsync(client, OneGiB);
        long verified = await ReceiveAndVerifyPatternAsync(client, OneGiB);
        await sending;
        done.Cancel();
        await sampler;

        Assert.Equal(OneGiB, verified);
        long growth = rssPeak - rssBaseline;
        Assert.True(growth < 64L * 1024 * 1024, $"RSS grew by {growth / (1024 * 1024)} MiB while streaming 1 GiB.");
    }

    private static async Task SendPatternAsync(Socket socket, long length)
    {
        byte[] buffer = BytePattern.Block();
        for (long sent = 0; sent < length; sent += buffer.Length)
        {
            await socket.SendAsync(buffer);
        }
        socket.Shutdown(SocketShutdown.Send);
    }

    private static async Task<long> ReceiveAndVerifyPatternAsync(Socket socket, long expected)
    {
        byte[] buffer = new byte[64 * 1024];
        long received = 0;
        int read;
        while ((read = await socket.ReceiveAsync(buffer)) > 0)
        {
            BytePattern.Verify(buffer.AsSpan(0, read), received);
            received += read;
            if (received > expected)
            {
                throw new InvalidDataException($"Received {received} bytes, more than the {expected} sent.");
            }
        }
        return received;
    }
}
