using System.Net;
using System.Net.Sockets;
using MNet.Transport.Hosting;
using MNet.Transport.Loop;
using MNet.Transport.Tests.Infrastructure;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging.Abstractions;

namespace MNet.Transport.Tests.Tcp;

/// <summary>The io_uring backend's registered files: open sockets hold slots of the ring's table and give them back.</summary>
public sealed class IoUringRegisteredFileTests
{
    [Fact]
    public async Task ConnectionsPastTheTable_AreServedByDescriptor_AndClosedOnesGiveTheirSlotsBack()
    {
        const int Slots = 4;
        const int Connections = 10;
        MNetTransportOptions options = new() { Backend = MNetBackend.IoUring, LoopCount = 1, IoUringFileSlots = Slots };
        await using TransportRuntime runtime = new(options, NullLogger.Instance);
        IConnectionListener listener = runtime.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        EventLoop loop = runtime.EnsureStarted().Loops[0];
        try
        {
            // The second round runs on the slots the first gave back: if closing kept them, it would run on none.
            for (int round = 0; round < 2; round++)
            {
                List<Socket> clients = [];
                List<ConnectionContext> connections = [];
                for (int i = 0; i < Connections; i++)
                {
                    Socket client = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    await client.ConnectAsync(listener.EndPoint);
                    clients.Add(client);
                    connections.Add((await listener.AcceptAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)))!);
                }

                Assert.Equal(Slots, await RegisteredFilesAsync(loop));
                await Task.WhenAll(clients.Select((client, i) => HalfCloseEcho.RunAsync(client, connections[i], seed: round * Connections + i)));

                foreach (Socket client in clients)
                {
                    client.Dispose();
                }
                foreach (ConnectionContext connection in connections)
                {
                    await connection.DisposeAsync();
                }
                Assert.Equal(0, await RegisteredFilesAsync(loop));
            }
        }
        finally
        {
            await listener.UnbindAsync();
            await listener.DisposeAsync();
        }
    }

    private static Task<int> RegisteredFilesAsync(EventLoop loop) => TestLoops.ReadOnLoopAsync(loop, loop => loop.IoUring.RegisteredFiles);
}
