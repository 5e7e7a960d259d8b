using System.Net.Sockets;
using MNet.Transport.Tests.Infrastructure;
using Microsoft.AspNetCore.Connections;
using Xunit.Abstractions;

namespace MNet.Transport.Tests.Tcp;

/// <summary>What an idle connection keeps of the sends it made, read from the live managed heap of this process.</summary>
public sealed class IdleConnectionMemoryTests(ITestOutputHelper output)
{
    private const int Connections = 1000;

    // A write of several pipe segments goes out as one gathered send; on io_uring the kernel reads its gather lists
    // after submission, and the segments stay pinned until it completes. Once such a send is done, an idle connection
    // must keep no more than one whose sends were of a single segment: what a gathered send needs is lent for the
    // send only. The same connections are measured after sends of each kind, so only what those sends left differs.
    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task IdleConnections_KeepNothingOfASendOfSeveralSegments(TransportKind kind)
    {
        const int SeveralSegments = 3 * 4096; // three of the pipes' segments (MNet's blocks, Kestrel's too)
        await using ListenerScope scope = await ListenerScope.StartAsync(kind, o => o.LoopCount = 1);
        await WarmUpAsync(scope, SeveralSegments);
        (List<Socket> clients, List<ConnectionContext> connections) = await OpenAsync(scope, Connections);
        try
        {
            await SendOnEachAsync(connections, clients, 100);
            long afterSingleSegment = LiveHeap();
            await SendOnEachAsync(connections, clients, SeveralSegments);
            long afterSeveralSegments = LiveHeap();

            double kept = (afterSeveralSegments - afterSingleSegment) / (double)Connections;
            output.WriteLine($"{kind}: the live heap grew by {kept:F0} bytes per idle connection after a send of several segments");
            // Each pipe keeps the segment objects it used (about 100 bytes each). Before gather lists were lent per
            // send, an io_uring connection kept one after its first such send: 6 KiB here, and 4 KiB of native memory.
            Assert.True(kept < 1024, $"{kind}: {kept:F0} bytes per idle connection");
        }
        finally
        {
            await CloseAsync(clients, connections);
        }
    }

    /// <summary>
    /// Sends of both kinds on connections of their own, closed before the measured ones open: the first use of each
    /// code path, and the memory pool's growth to three blocks in flight, are not counted against the connections.
    /// </summary>
    private static async Task WarmUpAsync(ListenerScope scope, int length)
    {
        (List<Socket> clients, List<ConnectionContext> connections) = await OpenAsync(scope, 4);
        await SendOnEachAsync(connections, clients, 100);
        await SendOnEachAsync(connections, clients, length);
        await CloseAsync(clients, connections);
    }

    private static async Task<(List<Socket> Clients, List<ConnectionContext> Connections)> OpenAsync(ListenerScope scope, int count)
    {
        List<Socket> clients = new(count);
        List<ConnectionContext> connections = new(count);
        for (int i = 0; i < count; i++)
        {
            clients.Add(await scope.ConnectAsync());
            connections.Add(await scope.AcceptAsync());
        }
        return (clients, connections);
    }

    private static async Task CloseAsync(List<Socket> clients, List<ConnectionContext> connections)
    {
        foreach (Socket client in clients)
        {
            client.Dispose();
        }
        foreach (ConnectionContext connection in connections)
        {
            await connection.DisposeAsync();
        }
    }

    /// <summary>Each connection sends <paramref name="length"/> bytes, and its client receives them, one connection at a time.</summary>
    private static async Task SendOnEachAsync(List<ConnectionContext> connections, List<Socket> clients, int length)
    {
        byte[] payload = new byte[length];
        byte[] received = new byte[length];
        for (int i = 0; i < connections.Count; i++)
        {
            await connections[i].Transport.Output.WriteAsync(payload);
            for (int total = 0; total < length;)
            {
                int count = await clients[i].ReceiveAsync(received.AsMemory(total));
                Assert.NotEqual(0, count);
                total += count;
            }
        }
        await Task.Delay(100); // the last send's completion is handled after its bytes arrive
    }

    private static long LiveHeap()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
