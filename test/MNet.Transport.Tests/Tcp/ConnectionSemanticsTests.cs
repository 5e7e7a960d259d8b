using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MNet.Transport.Tests.Infrastructure;
using Microsoft.AspNetCore.Connections;

namespace MNet.Transport.Tests.Tcp;

/// <summary>How a connection's pipes follow the socket: FIN, RST, abort and backpressure.</summary>
public sealed class ConnectionSemanticsTests
{
    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task PeerFinAfterData_EveryByteIsDeliveredBeforeTheInputCompletes(TransportKind kind)
    {
        await using ListenerScope scope = await ListenerScope.StartAsync(kind);
        using Socket client = await scope.ConnectAsync();
        ConnectionContext connection = await scope.AcceptAsync();
        byte[] payload = new byte[1024 * 1024];
        new Random(7).NextBytes(payload);

        await client.SendAsync(payload);
        client.Shutdown(SocketShutdown.Send);
        byte[] received = await PipeDrain.ReadToEndAsync(connection.Transport.Input);

        Assert.Equal(payload, received);
        await connection.Transport.Output.WriteAsync(Encoding.ASCII.GetBytes("bye"));
        await connection.Transport.Output.CompleteAsync();
        Assert.Equal("bye", Encoding.ASCII.GetString(await PipeDrain.ReceiveToEndAsync(client)));
        await connection.DisposeAsync();
    }

    // A response the application completes the output after (as HTTP's "Connection: close") leaves with the FIN in one
    // segment, not two. The client counts what it received: the SYN-ACK, then the bytes and the FIN.
    [Theory]
    [InlineData(TransportKind.Epoll)]
    [InlineData(TransportKind.IoUring)]
    public async Task OutputCompletedRightAfterAWrite_LeavesWithTheFinInOneSegment(TransportKind kind)
    {
        const int TcpInfo = 11, SegmentsInOffset = 140; // TCP_INFO; struct tcp_info's tcpi_segs_in
        await using ListenerScope scope = await ListenerScope.StartAsync(kind);
        using Socket client = await scope.ConnectAsync();
        ConnectionContext connection = await scope.AcceptAsync();

        connection.Transport.Output.Write(Encoding.ASCII.GetBytes("bye"));
        await connection.Transport.Output.CompleteAsync();
        Assert.Equal("bye", Encoding.ASCII.GetString(await PipeDrain.ReceiveToEndAsync(client)));

        byte[] info = new byte[256];
        Assert.True(client.GetRawSocketOption((int)SocketOptionLevel.Tcp, TcpInfo, info) >= SegmentsInOffset + 4);
        Assert.Equal(2u, BitConverter.ToUInt32(info, SegmentsInOffset));
        await connection.DisposeAsync();
    }

    // Hundreds of connections whose application reads nothing while their peers keep sending, all on one loop: what
    // they buffer is bounded per connection, and receive buffers the loop shares (io_uring's provided buffers) are
    // not held by them, so a connection that does read still gets its bytes.
    [Theory]
    [MemberData(nameof(Transports.MNet), MemberType = typeof(Transports))]
    public async Task ConnectionsWhoseApplicationStopsReading_DoNotStarveTheOthersOnTheirLoop(TransportKind kind)
    {
        const int Stalled = 300;
        await using ListenerScope scope = await ListenerScope.StartAsync(kind, o =>
        {
            o.LoopCount = 1;
            o.MaxReadBufferSize = 16 * 1024;
        });
        List<Socket> clients = [];
        List<ConnectionContext> connections = [];
        List<Task> sends = [];
        byte[] flood = new byte[256 * 1024];
        try
        {
            for (int i = 0; i < Stalled; i++)
            {
                Socket client = await scope.ConnectAsync();
                clients.Add(client);
                connections.Add(await scope.AcceptAsync());
                sends.Add(client.SendAsync(flood)); // never read: stays pending
            }
            await Task.Delay(300);

            using Socket reader = await scope.ConnectAsync();
            ConnectionContext reading = await scope.AcceptAsync();
            connections.Add(reading);
            byte[] payload = new byte[256 * 1024];
            new Random(11).NextBytes(payload);
            await reader.SendAsync(payload);
            reader.Shutdown(SocketShutdown.Send);
            byte[] received = await PipeDrain.ReadToEndAsync(reading.Transport.Input).WaitAsync(TimeSpan.FromSeconds(20));

            Assert.Equal(payload, received);
            Assert.All(sends, send => Assert.False(send.IsFaulted));
        }
        finally
        {
            foreach (Socket client in clients)
            {
                client.Dispose();
            }
            foreach (ConnectionContext connection in connections)
            {
                await connection.DisposeAsync();
            }
            await Task.WhenAny(Task.WhenAll(sends), Task.Delay(5000)); // the closed sockets end them
        }
    }

    [Theory]
    [MemberData(nameof(Transports.MNet), MemberType = typeof(Transports))]
    public async Task Abort_ClosesWithReset(TransportKind kind)
    {
        await using ListenerScope scope = await ListenerScope.StartAsync(kind);
        using Socket client = await scope.ConnectAsync();
        ConnectionContext connection = await scope.AcceptAsync();

        connection.Abort(new ConnectionAbortedException("test abort"));

        SocketException error = await Assert.ThrowsAsync<SocketException>(async () => await client.ReceiveAsync(new byte[16]));
        Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
        await Assert.ThrowsAsync<ConnectionAbortedException>(async () => await connection.Transport.Input.ReadAsync());
        await connection.DisposeAsync();
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task PeerReset_FailsTheInputWithConnectionResetException(TransportKind kind)
    {
        await using ListenerScope scope = await ListenerScope.StartAsync(kind);
        Socket client = await scope.ConnectAsync();
        ConnectionContext connection = await scope.AcceptAsync();

        client.LingerState = new LingerOption(true, 0);
        client.Close();

        await Assert.ThrowsAsync<ConnectionResetException>(() => PipeDrain.ReadToEndAsync(connection.Transport.Input));
        await connection.DisposeAsync();
    }

    // MNet only: Kestrel's Sockets transport races here. When its send sees the reset first, the
    // receive then reads a plain EOF and the input completes without saying why (seen in CI).
    [Theory]
    [MemberData(nameof(Transports.MNet), MemberType = typeof(Transports))]
    public async Task WritingToAResetPeer_EndsTheFlushesWithIsCompleted_AndTheInputSaysWhy(TransportKind kind)
    {
        await using ListenerScope scope = await ListenerScope.StartAsync(kind);
        Socket client = await scope.ConnectAsync();
        ConnectionContext connection = await scope.AcceptAsync();
        client.LingerState = new LingerOption(true, 0);
        client.Close();

        bool completed = false;
        for (int i = 0; i < 500 && !completed; i++)
        {
            completed = (await connection.Transport.Output.WriteAsync(new byte[1024])).IsCompleted;
            await Task.Delay(10);
        }

        Assert.True(completed, "the writes never learned that the peer is gone");
        await Assert.ThrowsAsync<ConnectionResetException>(() => PipeDrain.ReadToEndAsync(connection.Transport.Input));
        await connection.DisposeAsync();
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task AWriteLargerThanOneSendBatch_ArrivesWhole_ToAPeerThatOnlyReads(TransportKind kind)
    {
        await using ListenerScope scope = await ListenerScope.StartAsync(kind);
        using Socket client = await scope.ConnectAsync();
        ConnectionContext connection = await scope.AcceptAsync();
        byte[] payload = BytePattern.Block(4 * 1024 * 1024); // far more than 64 pooled segments per sendmsg

        Task writing = Task.Run(async () =>
        {
            await connection.Transport.Output.WriteAsync(payload);
            await connection.Transport.Output.CompleteAsync();
        });
        byte[] received = await PipeDrain.ReceiveToEndAsync(client).WaitAsync(TimeSpan.FromSeconds(30));
        await writing;

        Assert.Equal(payload.Length, received.Length);
        BytePattern.Verify(received, 0);
        await connection.DisposeAsync();
    }

    [Theory]
    [MemberData(nameof(Transports.MNet), MemberType = typeof(Transports))]
    public async Task ReceiveBackpressure_BuffersNoMoreThanTheReadLimit_ThenDeliversEverything(TransportKind kind)
    {
        const long limit = 64 * 1024;
        const int total = 8 * 1024 * 1024;
        await using ListenerScope scope = await ListenerScope.StartAsync(kind, o => o.MaxReadBufferSize = limit);
        using Socket client = await scope.ConnectAsync();
        ConnectionContext connection = await scope.AcceptAsync();
        byte[] payload = new byte[total];
        new Random(3).NextBytes(payload);

        Task sending = Task.Run(async () =>
        {
            await client.SendAsync(payload);
            client.Shutdown(SocketShutdown.Send);
        });
        await Task.Delay(500); // the application reads nothing meanwhile

        ReadResult first = await connection.Transport.Input.ReadAsync();
        long buffered = first.Buffer.Length;
        connection.Transport.Input.AdvanceTo(first.Buffer.Start);
        byte[] received = await PipeDrain.ReadToEndAsync(connection.Transport.Input);
        await sending;

        // One receive pass (at most 256 KiB) may land on top of the limit before the loop sees the pause.
        Assert.InRange(buffered, 1, limit + (256 * 1024) + 4096);
        Assert.Equal(payload, received);
        await connection.DisposeAsync();
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task EndPoints_AreThoseOfTheSocket(TransportKind kind)
    {
        await using ListenerScope scope = await ListenerScope.StartAsync(kind);
        using Socket client = await scope.ConnectAsync();
        ConnectionContext connection = await scope.AcceptAsync();

        Assert.Equal(client.LocalEndPoint, connection.RemoteEndPoint);
        Assert.Equal(client.RemoteEndPoint, connection.LocalEndPoint);
        Assert.False(string.IsNullOrEmpty(connection.ConnectionId));
        await connection.DisposeAsync();
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task ConnectionClosed_FiresWhenThePeerCloses_WhileTheApplicationHoldsTheConnection(TransportKind kind)
    {
        await using ListenerScope scope = await ListenerScope.StartAsync(kind);
        Socket client = await scope.ConnectAsync();
        ConnectionContext connection = await scope.AcceptAsync();
        TaskCompletionSource closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        using CancellationTokenRegistration registration = connection.ConnectionClosed.Register(closed.SetResult);

        client.Close();

        await closed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await connection.DisposeAsync();
    }

    // The peer closes first: ConnectionClosed's callbacks run while the application still holds the connection, and
    // its dispose ends only once they have finished, as with Kestrel's Sockets transport.
    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task DisposeAsync_AfterThePeerCloses_EndsOnlyOnceTheConnectionClosedCallbacksHaveRun(TransportKind kind)
    {
        await using ListenerScope scope = await ListenerScope.StartAsync(kind);
        Socket client = await scope.ConnectAsync();
        ConnectionContext connection = await scope.AcceptAsync();
        TaskCompletionSource entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        using ManualResetEventSlim release = new();
        using CancellationTokenRegistration registration = connection.ConnectionClosed.Register(() =>
        {
            entered.SetResult();
            release.Wait();
        });

        client.Close();
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Task disposing = connection.DisposeAsync().AsTask();
        Task first = await Task.WhenAny(disposing, Task.Delay(1000));
        release.Set();

        Assert.NotSame(disposing, first); // the dispose waited for the callback
        await disposing.WaitAsync(TimeSpan.FromSeconds(10));
    }

    // The order every HTTP/1.1 "Connection: close" takes: the application completes its output and disposes while the
    // peer still holds its end. ConnectionClosed and the end of DisposeAsync are signalled together then, closed first,
    // and what follows the dispose never runs on a loop thread.
    [Theory]
    [MemberData(nameof(Transports.MNet), MemberType = typeof(Transports))]
    public async Task DisposeAsync_AfterTheOutputCompletes_FiresConnectionClosedFirst_AndResumesOnTheThreadPool(TransportKind kind)
    {
        await using ListenerScope scope = await ListenerScope.StartAsync(kind);
        using Socket client = await scope.ConnectAsync();
        ConnectionContext connection = await scope.AcceptAsync();
        bool closedFired = false;
        using CancellationTokenRegistration registration = connection.ConnectionClosed.Register(() => Volatile.Write(ref closedFired, true));

        await connection.Transport.Output.WriteAsync(Encoding.ASCII.GetBytes("bye"));
        await connection.Transport.Output.CompleteAsync();
        (bool firedFirst, Thread resumedOn) = await DisposeAndObserveAsync().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(firedFirst);
        Assert.True(resumedOn.IsThreadPoolThread);
        Assert.DoesNotContain("MNet loop", resumedOn.Name ?? "");

        async Task<(bool, Thread)> DisposeAndObserveAsync()
        {
            await connection.DisposeAsync().ConfigureAwait(false); // resumes where the transport ended the dispose
            return (Volatile.Read(ref closedFired), Thread.CurrentThread);
        }
    }
}
