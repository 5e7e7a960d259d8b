using System.Net;
using System.Net.Sockets;
using MNet.Transport.Hosting;
using MNet.Transport.Loop;
using MNet.Transport.Tests.Infrastructure;
using MNet.Transport.Udp;
using Microsoft.Extensions.Logging.Abstractions;

namespace MNet.Transport.Tests.Udp;

public sealed class UdpChannelTests
{
    private static readonly IPEndPoint AnyLoopbackPort = new(IPAddress.Loopback, 0);
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);

    private static UdpChannel Bind(MNetBackend backend, IPEndPoint localEndPoint, UdpChannelOptions? options = null)
        => UdpChannel.Bind(localEndPoint, options, TestLoops.Shared(backend));

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task ReceiveAsync_ReportsTruncationAndTheFirstBytesOfAnOversizedDatagram(MNetBackend backend)
    {
        using UdpChannel receiver = Bind(backend, new IPEndPoint(IPAddress.Loopback, 0));
        using Socket sender = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        byte[] datagram = Enumerable.Range(0, 100).Select(i => (byte)i).ToArray();
        await sender.SendToAsync(datagram, receiver.LocalEndPoint);
        await sender.SendToAsync(datagram.AsMemory(0, 10), receiver.LocalEndPoint);

        byte[] buffer = new byte[40];
        DatagramReceiveResult truncated = await receiver.ReceiveAsync(buffer).AsTask().WaitAsync(s_timeout);
        Assert.True(truncated.IsTruncated);
        Assert.Equal(40, truncated.ReceivedBytes);
        Assert.Equal(datagram[..40], buffer);

        // The rest of the long datagram is gone; the next receive gets the next datagram, whole.
        DatagramReceiveResult next = await receiver.ReceiveAsync(buffer).AsTask().WaitAsync(s_timeout);
        Assert.False(next.IsTruncated);
        Assert.Equal(10, next.ReceivedBytes);
        Assert.Equal(((IPEndPoint)sender.LocalEndPoint!).Port, next.RemoteEndPoint.Port);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task ReceiveAsync_DeliversZeroLengthDatagrams(MNetBackend backend)
    {
        using UdpChannel receiver = Bind(backend, new IPEndPoint(IPAddress.Loopback, 0));
        using UdpChannel sender = Bind(backend, new IPEndPoint(IPAddress.Loopback, 0));
        Task<DatagramReceiveResult> pending = receiver.ReceiveAsync(new byte[16]).AsTask();
        await sender.SendToAsync(ReadOnlyMemory<byte>.Empty, receiver.LocalEndPoint);
        await sender.SendToAsync(new byte[] { 7 }, receiver.LocalEndPoint);

        DatagramReceiveResult empty = await pending.WaitAsync(s_timeout);
        Assert.Equal(0, empty.ReceivedBytes);
        Assert.False(empty.IsTruncated);
        Assert.Equal(sender.LocalEndPoint, empty.RemoteEndPoint);
        Assert.Equal(1, (await receiver.ReceiveAsync(new byte[16]).AsTask().WaitAsync(s_timeout)).ReceivedBytes);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task ReceiveAsync_KeepsEveryDatagramOfABurstWhole_WhenTheyArriveFasterThanTheyAreRead(MNetBackend backend)
    {
        using UdpChannel receiver = Bind(backend, new IPEndPoint(IPAddress.Loopback, 0));
        using UdpChannel sender = Bind(backend, new IPEndPoint(IPAddress.Loopback, 0));
        const int count = 200;
        for (int i = 0; i < count; i++)
        {
            await sender.SendToAsync(BitConverter.GetBytes(i), receiver.LocalEndPoint);
        }

        // Small buffers batch: later datagrams wait in the channel, and each still arrives alone and whole.
        HashSet<int> seen = [];
        byte[] buffer = new byte[8];
        for (int i = 0; i < count; i++)
        {
            DatagramReceiveResult result = await receiver.ReceiveAsync(buffer).AsTask().WaitAsync(s_timeout);
            Assert.Equal(4, result.ReceivedBytes);
            Assert.True(seen.Add(BitConverter.ToInt32(buffer)));
        }
        Assert.Equal(Enumerable.Range(0, count), seen.Order());
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task ReceiveAsync_JudgesADatagramReadAheadAgainstTheBufferOfTheReceiveThatTakesIt(MNetBackend backend)
    {
        using UdpChannel receiver = Bind(backend, AnyLoopbackPort);
        using Socket sender = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        byte[] datagram = Enumerable.Range(0, 1000).Select(i => (byte)(i * 7)).ToArray();
        for (int i = 0; i < 3; i++)
        {
            await sender.SendToAsync(datagram, receiver.LocalEndPoint);
        }

        // The small receive reads the whole burst; the two behind it must not be cut to its size.
        byte[] small = new byte[10];
        DatagramReceiveResult first = await receiver.ReceiveAsync(small).AsTask().WaitAsync(s_timeout);
        Assert.True(first.IsTruncated);

        byte[] large = new byte[2000];
        DatagramReceiveResult second = await receiver.ReceiveAsync(large).AsTask().WaitAsync(s_timeout);
        Assert.False(second.IsTruncated);
        Assert.Equal(datagram, large[..second.ReceivedBytes]);

        DatagramReceiveResult third = await receiver.ReceiveAsync(small).AsTask().WaitAsync(s_timeout);
        Assert.True(third.IsTruncated);
        Assert.Equal(datagram[..10], small);
    }

    [Fact]
    public async Task ChannelWhoseLoopHasStopped_WorksWhileTheSocketIsReady_AndFailsAReceiveThatWouldWait()
    {
        EventLoop loop = TestLoops.Start(NullLogger.Instance);
        await loop.StopAsync();
        using UdpChannel channel = UdpChannel.Bind(AnyLoopbackPort, options: null, loop);
        using UdpChannel peer = UdpChannel.Bind(AnyLoopbackPort);
        byte[] buffer = new byte[16];

        await channel.SendToAsync(new byte[] { 1 }, peer.LocalEndPoint);
        Assert.Equal(1, (await peer.ReceiveAsync(buffer).AsTask().WaitAsync(s_timeout)).ReceivedBytes);
        await peer.SendToAsync(new byte[] { 2, 3 }, channel.LocalEndPoint);
        Assert.Equal(2, (await channel.ReceiveAsync(buffer).AsTask().WaitAsync(s_timeout)).ReceivedBytes);

        // Nothing is waiting now, and no loop will say when something arrives: the receive fails instead of hanging.
        InvalidOperationException error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => channel.ReceiveAsync(buffer).AsTask().WaitAsync(s_timeout));
        Assert.IsType<ObjectDisposedException>(error.InnerException);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task SendBatchAsync_DeliversEveryDatagramToItsPeer_FromADualStackChannelToIPv4Peers(MNetBackend backend)
    {
        using UdpChannel sender = Bind(backend, new IPEndPoint(IPAddress.IPv6Any, 0));
        using UdpChannel first = Bind(backend, AnyLoopbackPort);
        using UdpChannel second = Bind(backend, AnyLoopbackPort);
        IPEndPoint firstPeer = new(IPAddress.Loopback, first.LocalEndPoint.Port);
        IPEndPoint secondPeer = new(IPAddress.Loopback, second.LocalEndPoint.Port);
        DatagramSendBatch batch = new();
        for (int i = 0; i < DatagramSendBatch.MaxDatagrams; i++)
        {
            Assert.True(batch.TryAdd(BitConverter.GetBytes(i), i % 2 == 0 ? firstPeer : secondPeer));
        }
        Assert.False(batch.TryAdd(new byte[1], firstPeer)); // full
        Assert.Equal(DatagramSendBatch.MaxDatagrams, batch.Count);

        await sender.SendBatchAsync(batch).AsTask().WaitAsync(s_timeout);

        Assert.Equal(0, batch.Count);
        Assert.Equal(Enumerable.Range(0, 16).Select(i => 2 * i), await ReceiveIntsAsync(first, 16));
        Assert.Equal(Enumerable.Range(0, 16).Select(i => 2 * i + 1), await ReceiveIntsAsync(second, 16));
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task SendBatchAsync_SkipsADatagramTheKernelRefuses_SendsTheRest_AndThenThrows(MNetBackend backend)
    {
        using UdpChannel sender = Bind(backend, AnyLoopbackPort);
        using UdpChannel receiver = Bind(backend, AnyLoopbackPort);
        DatagramSendBatch batch = new();
        Assert.True(batch.TryAdd(BitConverter.GetBytes(1), receiver.LocalEndPoint));
        Assert.True(batch.TryAdd(new byte[65_508], receiver.LocalEndPoint)); // one byte over the IPv4 limit
        Assert.True(batch.TryAdd(BitConverter.GetBytes(2), receiver.LocalEndPoint));

        SocketException error = await Assert.ThrowsAsync<SocketException>(() => sender.SendBatchAsync(batch).AsTask());
        Assert.Equal(SocketError.MessageSize, error.SocketErrorCode);
        Assert.Equal(0, batch.Count);
        Assert.Equal(new[] { 1, 2 }, await ReceiveIntsAsync(receiver, 2));
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task SendBatchAsync_SendsUnaddressedDatagramsToTheConnectedPeer_AndRefusesThemWhenNotConnected(MNetBackend backend)
    {
        using UdpChannel receiver = Bind(backend, AnyLoopbackPort);
        using UdpChannel connected = Bind(backend, AnyLoopbackPort);
        using UdpChannel unconnected = Bind(backend, AnyLoopbackPort);
        connected.Connect(receiver.LocalEndPoint);
        DatagramSendBatch batch = new();
        Assert.True(batch.TryAdd(BitConverter.GetBytes(1)));
        Assert.True(batch.TryAdd(BitConverter.GetBytes(2), receiver.LocalEndPoint));
        Assert.True(batch.TryAdd(BitConverter.GetBytes(3)));

        await connected.SendBatchAsync(batch).AsTask().WaitAsync(s_timeout);

        Assert.Equal(new[] { 1, 2, 3 }, await ReceiveIntsAsync(receiver, 3));
        Assert.True(batch.TryAdd(BitConverter.GetBytes(4)));
        SocketException error = await Assert.ThrowsAsync<SocketException>(() => unconnected.SendBatchAsync(batch).AsTask());
        Assert.Equal(SocketError.DestinationAddressRequired, error.SocketErrorCode);
        Assert.Equal(0, batch.Count);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task Connect_SurfacesPortUnreachableAsASocketErrorOnTheNextCall(MNetBackend backend)
    {
        int closedPort = ClosedPort();
        using UdpChannel channel = Bind(backend, new IPEndPoint(IPAddress.Loopback, 0));
        channel.Connect(new IPEndPoint(IPAddress.Loopback, closedPort));
        Task<DatagramReceiveResult> receive = channel.ReceiveAsync(new byte[16]).AsTask();
        await channel.SendAsync(new byte[] { 1, 2, 3 });

        SocketException error = await Assert.ThrowsAsync<SocketException>(() => receive.WaitAsync(s_timeout));
        Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task Dispose_FailsAPendingReceive_AndReleasesTheSocket(MNetBackend backend)
    {
        Bind(backend, AnyLoopbackPort).Dispose(); // the process's shared loop stays once started: count it in the baseline
        int baseline = ProcessResources.OpenFileDescriptors;
        UdpChannel channel = Bind(backend, new IPEndPoint(IPAddress.Loopback, 0));
        ValueTask<DatagramReceiveResult> pending = channel.ReceiveAsync(new byte[16]);
        Assert.False(pending.IsCompleted);

        channel.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => pending.AsTask().WaitAsync(s_timeout));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => channel.SendToAsync(new byte[1], new IPEndPoint(IPAddress.Loopback, 9)).AsTask());
        Assert.Equal(baseline, await ProcessResources.SettleAsync(() => ProcessResources.OpenFileDescriptors, baseline));
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task ReceiveAsync_Cancellation_CompletesThePendingReceiveAndTheChannelStaysUsable(MNetBackend backend)
    {
        using UdpChannel receiver = Bind(backend, new IPEndPoint(IPAddress.Loopback, 0));
        using CancellationTokenSource cancel = new();
        ValueTask<DatagramReceiveResult> pending = receiver.ReceiveAsync(new byte[16], cancel.Token);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.AsTask().WaitAsync(s_timeout));

        using UdpChannel sender = Bind(backend, new IPEndPoint(IPAddress.Loopback, 0));
        await sender.SendToAsync(new byte[] { 42 }, receiver.LocalEndPoint);
        byte[] buffer = new byte[16];
        Assert.Equal(1, (await receiver.ReceiveAsync(buffer).AsTask().WaitAsync(s_timeout)).ReceivedBytes);
        Assert.Equal(42, buffer[0]);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task ReceiveAsync_WhileAnotherIsPending_Throws(MNetBackend backend)
    {
        using UdpChannel receiver = Bind(backend, new IPEndPoint(IPAddress.Loopback, 0));
        ValueTask<DatagramReceiveResult> pending = receiver.ReceiveAsync(new byte[16]);
        Assert.Throws<InvalidOperationException>(() => { _ = receiver.ReceiveAsync(new byte[16]).AsTask(); });
        receiver.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => pending.AsTask());
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task Broadcast_ToTheLoopbackBroadcastAddress_ReachesAChannelBoundToThatPort(MNetBackend backend)
    {
        using UdpChannel receiver = Bind(backend, new IPEndPoint(IPAddress.Any, 0));
        using UdpChannel sender = Bind(backend, new IPEndPoint(IPAddress.Loopback, 0));
        IPEndPoint broadcast = new(IPAddress.Parse("127.255.255.255"), receiver.LocalEndPoint.Port);

        SocketException refused = await Assert.ThrowsAsync<SocketException>(() => sender.SendToAsync(new byte[] { 1 }, broadcast).AsTask());
        Assert.Equal(SocketError.AccessDenied, refused.SocketErrorCode);

        sender.EnableBroadcast = true;
        Assert.True(sender.EnableBroadcast);
        await sender.SendToAsync(new byte[] { 2 }, broadcast);
        byte[] buffer = new byte[4];
        DatagramReceiveResult result = await receiver.ReceiveAsync(buffer).AsTask().WaitAsync(s_timeout);
        Assert.Equal(1, result.ReceivedBytes);
        Assert.Equal(2, buffer[0]);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task Multicast_AGroupOnTheLoopbackInterface_ReachesEveryMember_UntilOneLeaves(MNetBackend backend)
    {
        IPAddress group = IPAddress.Parse("239.255.77.1");
        UdpChannelOptions shared = new() { ReuseAddress = true };
        using UdpChannel first = Bind(backend, new IPEndPoint(IPAddress.Any, 0), shared);
        using UdpChannel second = Bind(backend, new IPEndPoint(IPAddress.Any, first.LocalEndPoint.Port), shared);
        first.JoinMulticastGroup(group, IPAddress.Loopback);
        second.JoinMulticastGroup(group, IPAddress.Loopback);
        using UdpChannel sender = Bind(backend, new IPEndPoint(IPAddress.Loopback, 0));
        sender.SetMulticastInterface(IPAddress.Loopback);
        sender.MulticastTtl = 1;
        Assert.True(sender.MulticastLoopback);
        IPEndPoint destination = new(group, first.LocalEndPoint.Port);

        await sender.SendToAsync("hello"u8.ToArray(), destination);
        foreach (UdpChannel member in new[] { first, second })
        {
            byte[] buffer = new byte[16];
            DatagramReceiveResult result = await member.ReceiveAsync(buffer).AsTask().WaitAsync(s_timeout);
            Assert.Equal("hello", System.Text.Encoding.ASCII.GetString(buffer, 0, result.ReceivedBytes));
        }

        second.LeaveMulticastGroup(group, IPAddress.Loopback);
        await sender.SendToAsync("again"u8.ToArray(), destination);
        Assert.Equal(5, (await first.ReceiveAsync(new byte[16]).AsTask().WaitAsync(s_timeout)).ReceivedBytes);
        ValueTask<DatagramReceiveResult> nothing = second.ReceiveAsync(new byte[16]);
        await Task.Delay(200);
        Assert.False(nothing.IsCompleted);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public void Options_RejectBadValuesWithTheirName(MNetBackend backend)
    {
        using UdpChannel channel = Bind(backend, new IPEndPoint(IPAddress.Loopback, 0));
        Assert.Equal(backend == MNetBackend.Epoll ? "EpollUdpChannel" : "PortableUdpChannel", channel.GetType().Name);
        Assert.Throws<ArgumentOutOfRangeException>("value", () => channel.Ttl = 0);
        channel.Ttl = 17;
        Assert.Equal(17, channel.Ttl);
        Assert.Throws<ArgumentException>("group", () => channel.JoinMulticastGroup(IPAddress.Loopback));
        Assert.Throws<ArgumentOutOfRangeException>(
            "ReceiveBufferSize", () => Bind(backend, new IPEndPoint(IPAddress.Loopback, 0), new UdpChannelOptions { ReceiveBufferSize = 0 }));
        Assert.Throws<ArgumentNullException>("localEndPoint", () => Bind(backend, null!));
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public void Bind_ToAPortInUse_ThrowsAddressAlreadyInUse(MNetBackend backend)
    {
        using UdpChannel first = Bind(backend, new IPEndPoint(IPAddress.Loopback, 0));
        SocketException error = Assert.Throws<SocketException>(() => Bind(backend, first.LocalEndPoint));
        Assert.Equal(SocketError.AddressAlreadyInUse, error.SocketErrorCode);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task IPv6DualStackChannel_ExchangesDatagramsWithAnIPv4Peer(MNetBackend backend)
    {
        using UdpChannel server = Bind(backend, new IPEndPoint(IPAddress.IPv6Any, 0));
        using UdpChannel client = Bind(backend, new IPEndPoint(IPAddress.Loopback, 0));
        await client.SendToAsync(new byte[] { 9 }, new IPEndPoint(IPAddress.Loopback, server.LocalEndPoint.Port));
        DatagramReceiveResult request = await server.ReceiveAsync(new byte[4]).AsTask().WaitAsync(s_timeout);
        Assert.True(request.RemoteEndPoint.Address.IsIPv4MappedToIPv6);

        await server.SendToAsync(new byte[] { 10 }, request.RemoteEndPoint);
        byte[] buffer = new byte[4];
        await client.ReceiveAsync(buffer).AsTask().WaitAsync(s_timeout);
        Assert.Equal(10, buffer[0]);
    }

    /// <summary>Receives <paramref name="count"/> 4-byte datagrams and returns their values, sorted.</summary>
    private static async Task<int[]> ReceiveIntsAsync(UdpChannel channel, int count)
    {
        int[] values = new int[count];
        byte[] buffer = new byte[8];
        for (int i = 0; i < count; i++)
        {
            DatagramReceiveResult result = await channel.ReceiveAsync(buffer).AsTask().WaitAsync(s_timeout);
            Assert.Equal(4, result.ReceivedBytes);
            values[i] = BitConverter.ToInt32(buffer);
        }
        return values.Order().ToArray();
    }

    /// <summary>A loopback UDP port nothing listens on (it was just bound and released).</summary>
    private static int ClosedPort()
    {
        using Socket socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
