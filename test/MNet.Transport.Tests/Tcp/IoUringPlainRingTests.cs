using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using MNet.Transport.Hosting;
using MNet.Transport.Tests.Infrastructure;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging.Abstractions;

namespace MNet.Transport.Tests.Tcp;

/// <summary>
/// The io_uring backend on the ring a kernel before 6.1 gives, without deferred task work: the kernel then runs
/// completion work when the loop thread returns from any system call, not only inside its waits.
/// </summary>
public sealed class IoUringPlainRingTests
{
    [Fact]
    public async Task ConcurrentEchoesWithHalfClose_AreServedWhole()
    {
        const int Connections = 16;
        MNetTransportOptions options = new() { Backend = MNetBackend.IoUring, LoopCount = 1, IoUringPlainRingForTesting = true };
        await using TransportRuntime runtime = new(options, NullLogger.Instance);
        IConnectionListener listener = runtime.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        try
        {
            Assert.False(await TestLoops.ReadOnLoopAsync(runtime.EnsureStarted().Loops[0], loop => loop.IoUring.DefersTaskWork));

            List<Task> echoes = [];
            for (int i = 0; i < Connections; i++)
            {
                Socket client = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await client.ConnectAsync(listener.EndPoint);
                ConnectionContext connection = (await listener.AcceptAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)))!;
                echoes.Add(EchoAndCloseAsync(client, connection, seed: i));
            }
            await Task.WhenAll(echoes);
        }
        finally
        {
            await listener.UnbindAsync();
            await listener.DisposeAsync();
        }
    }

    [Fact]
    public async Task AClientConnection_StreamsBothWays_AndItsAbortResetsThePeer()
    {
        await using MNetConnectionFactory client = Transports.CreateClient(MNetBackend.IoUring, options => options.IoUringPlainRingForTesting = true);
        using Socket server = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        server.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        server.Listen();

        ConnectionContext connection = await client.ConnectAsync(server.LocalEndPoint!).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        using Socket accepted = await server.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(10));
        byte[] payload = new byte[1024 * 1024];
        new Random(7).NextBytes(payload);

        // Both directions in flight together: the client's send and the server's.
        Task sent = connection.Transport.Output.WriteAsync(payload).AsTask();
        Task<int> sentBack = accepted.SendAsync(payload, SocketFlags.None);
        byte[] atServer = new byte[payload.Length];
        int total = 0;
        while (total < payload.Length)
        {
            int read = await accepted.ReceiveAsync(atServer.AsMemory(total), SocketFlags.None).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
            Assert.NotEqual(0, read);
            total += read;
        }
        byte[] atClient = await ReadExactlyAsync(connection.Transport.Input, payload.Length).WaitAsync(TimeSpan.FromSeconds(20));
        await sent;
        await sentBack;
        Assert.Equal(payload, atServer);
        Assert.Equal(payload, atClient);

        connection.Abort();
        await connection.DisposeAsync();
        SocketException reset = await Assert.ThrowsAsync<SocketException>(async () =>
        {
            while (await accepted.ReceiveAsync(new byte[64].AsMemory(), SocketFlags.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10)) > 0)
            {
            }
        });
        Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
    }

    private static async Task EchoAndCloseAsync(Socket client, ConnectionContext connection, int seed)
    {
        using (client)
        await using (connection)
        {
            await HalfCloseEcho.RunAsync(client, connection, seed);
        }
    }

    private static async Task<byte[]> ReadExactlyAsync(PipeReader reader, int length)
    {
        while (true)
        {
            ReadResult result = await reader.ReadAsync();
            if (result.Buffer.Length >= length)
            {
                byte[] bytes = result.Buffer.Slice(0, length).ToArray();
                reader.AdvanceTo(result.Buffer.GetPosition(length));
                return bytes;
            }
            Assert.False(result.IsCompleted, $"the input ended after {result.Buffer.Length} of {length} bytes");
            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }
}
