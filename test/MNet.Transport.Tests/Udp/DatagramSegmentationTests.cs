using System.Net;
using System.Net.Sockets;
using MNet.Transport.Hosting;
using MNet.Transport.Native;
using MNet.Transport.Tests.Infrastructure;
using MNet.Transport.Udp;

namespace MNet.Transport.Tests.Udp;

/// <summary>
/// A batch whose datagrams have one length and one destination leaves the epoll channel as one message the kernel
/// cuts into them (UDP_SEGMENT); each receiver must still see its datagrams on their own, whole, in order, once.
/// </summary>
public sealed class DatagramSegmentationTests
{
    private const int SO_NO_CHECK = 11; // no UDP checksums on send, which a segmented send cannot do without
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);

    private enum Destination
    {
        ConnectedPeer,
        FirstByAddress, // the connected peer too, named
        Second,
    }

    // Runs of equal lengths: to the connected peer, at the segment limit and over it, then the same length to the
    // peer by address and to another receiver right after (a run must end where the destination changes), and lengths
    // that change every datagram.
    private static readonly (int Length, Destination To)[] s_batch =
    [
        .. Enumerable.Repeat((100, Destination.ConnectedPeer), 8),
        .. Enumerable.Repeat((DatagramSendBatch.MaxSegmentLength, Destination.ConnectedPeer), 4),
        .. Enumerable.Repeat((DatagramSendBatch.MaxSegmentLength + 1, Destination.ConnectedPeer), 3),
        .. Enumerable.Repeat((100, Destination.FirstByAddress), 3),
        .. Enumerable.Repeat((100, Destination.Second), 3),
        .. Enumerable.Repeat((100, Destination.FirstByAddress), 2),
        .. Enumerable.Range(1, 9).Select(i => (i, Destination.ConnectedPeer)),
    ];

    public static TheoryData<MNetBackend, string> BackendsAndFamilies()
    {
        TheoryData<MNetBackend, string> rows = [];
        foreach (MNetBackend backend in new[] { MNetBackend.Epoll, MNetBackend.Portable, MNetBackend.IoUring })
        {
            foreach (string family in new[] { "ipv4", "dual-stack", "ipv6" })
            {
                rows.Add(backend, family);
            }
        }
        return rows;
    }

    [Theory]
    [MemberData(nameof(BackendsAndFamilies))]
    public async Task SendBatchAsync_RunsOfEqualDatagrams_ArriveOneByOne_WholeInOrderAndOnce(MNetBackend backend, string family)
    {
        // dual-stack: an IPv6 channel sending to IPv4 peers, which it addresses as IPv4-mapped.
        IPAddress senderAddress = family switch { "ipv4" => IPAddress.Loopback, "dual-stack" => IPAddress.IPv6Any, _ => IPAddress.IPv6Loopback };
        IPAddress receiverAddress = family == "ipv6" ? IPAddress.IPv6Loopback : IPAddress.Loopback;
        using UdpChannel sender = Bind(backend, senderAddress);
        using UdpChannel first = Bind(backend, receiverAddress);
        using UdpChannel second = Bind(backend, receiverAddress);
        sender.Connect(first.LocalEndPoint);

        await SendAndVerifyAsync(sender, first, second);

        if (sender is EpollUdpChannel epoll)
        {
            Assert.True(epoll.SegmentsBatches); // this kernel (6.x) has UDP_SEGMENT and loopback takes it
        }
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task SendBatchAsync_RunsToABroadcastAndAMulticastGroup_ArriveOneByOne_AtEveryReceiver(MNetBackend backend)
    {
        IPAddress group = IPAddress.Parse("239.255.77.2");
        UdpChannelOptions shared = new() { ReuseAddress = true };
        using UdpChannel first = UdpChannel.Bind(new IPEndPoint(IPAddress.Any, 0), shared, TestLoops.Shared(backend));
        using UdpChannel second = UdpChannel.Bind(new IPEndPoint(IPAddress.Any, first.LocalEndPoint.Port), shared, TestLoops.Shared(backend));
        first.JoinMulticastGroup(group, IPAddress.Loopback);
        second.JoinMulticastGroup(group, IPAddress.Loopback);
        using UdpChannel sender = Bind(backend, IPAddress.Loopback);
        sender.EnableBroadcast = true;
        sender.SetMulticastInterface(IPAddress.Loopback);
        int port = first.LocalEndPoint.Port;

        foreach (IPAddress destination in new[] { IPAddress.Parse("127.255.255.255"), group })
        {
            DatagramSendBatch batch = new();
            for (int i = 0; i < 4; i++)
            {
                Assert.True(batch.TryAdd(Datagram(i, 100), new IPEndPoint(destination, port)));
            }
            await sender.SendBatchAsync(batch).AsTask().WaitAsync(s_timeout);

            foreach (UdpChannel receiver in new[] { first, second }) // both share the port, and both joined the group
            {
                byte[] buffer = new byte[64 * 1024];
                for (int i = 0; i < 4; i++)
                {
                    DatagramReceiveResult received = await receiver.ReceiveAsync(buffer).AsTask().WaitAsync(s_timeout);
                    Assert.Equal(Datagram(i, 100), buffer.AsSpan(0, received.ReceivedBytes).ToArray());
                }
            }
        }
        Assert.True(sender is not EpollUdpChannel epoll || epoll.SegmentsBatches); // the runs went as segments
    }

    [Fact]
    public async Task SendBatchAsync_WhereTheSocketRefusesSegments_SendsEachDatagramAlone_FromThenOn()
    {
        using UdpChannel first = Bind(MNetBackend.Epoll, IPAddress.Loopback);
        using UdpChannel second = Bind(MNetBackend.Epoll, IPAddress.Loopback);
        EpollUdpChannel sender = Assert.IsType<EpollUdpChannel>(Bind(MNetBackend.Epoll, IPAddress.Loopback));
        using (sender)
        {
            sender.Connect(first.LocalEndPoint);
            sender.SetIntOption(Libc.SOL_SOCKET, SO_NO_CHECK, 1); // the kernel now answers a segmented send with EINVAL

            await SendAndVerifyAsync(sender, first, second);
            Assert.False(sender.SegmentsBatches);
            await SendAndVerifyAsync(sender, first, second);
        }
    }

    [Fact]
    public async Task SendBatchAsync_ARunTheKernelRefusesForItsDestination_KeepsSegmenting()
    {
        using UdpChannel receiver = Bind(MNetBackend.Epoll, IPAddress.Loopback);
        EpollUdpChannel sender = Assert.IsType<EpollUdpChannel>(Bind(MNetBackend.Epoll, IPAddress.Loopback));
        using (sender)
        {
            DatagramSendBatch batch = new();
            for (int i = 0; i < 3; i++)
            {
                Assert.True(batch.TryAdd(Datagram(i, 100), new IPEndPoint(IPAddress.Loopback, 0))); // port 0: EINVAL alone too
            }
            Assert.True(batch.TryAdd(Datagram(3, 100), receiver.LocalEndPoint));

            SocketException error = await Assert.ThrowsAsync<SocketException>(() => sender.SendBatchAsync(batch).AsTask());

            Assert.Equal(SocketError.InvalidArgument, error.SocketErrorCode);
            byte[] buffer = new byte[1024];
            DatagramReceiveResult received = await receiver.ReceiveAsync(buffer).AsTask().WaitAsync(s_timeout);
            Assert.Equal(Datagram(3, 100), buffer.AsSpan(0, received.ReceivedBytes).ToArray());
            Assert.True(sender.SegmentsBatches); // the datagrams were refused, not the segments
        }
    }

    private static UdpChannel Bind(MNetBackend backend, IPAddress address)
        => UdpChannel.Bind(new IPEndPoint(address, 0), null, TestLoops.Shared(backend));

    private static async Task SendAndVerifyAsync(UdpChannel sender, UdpChannel first, UdpChannel second)
    {
        DatagramSendBatch batch = new();
        for (int i = 0; i < s_batch.Length; i++)
        {
            byte[] datagram = Datagram(i, s_batch[i].Length);
            Assert.True(s_batch[i].To switch
            {
                Destination.ConnectedPeer => batch.TryAdd(datagram),
                Destination.FirstByAddress => batch.TryAdd(datagram, first.LocalEndPoint),
                _ => batch.TryAdd(datagram, second.LocalEndPoint),
            });
        }

        await sender.SendBatchAsync(batch).AsTask().WaitAsync(s_timeout);

        Assert.Equal(0, batch.Count);
        await ReceiveExactlyAsync(first, Enumerable.Range(0, s_batch.Length).Where(i => s_batch[i].To != Destination.Second));
        await ReceiveExactlyAsync(second, Enumerable.Range(0, s_batch.Length).Where(i => s_batch[i].To == Destination.Second));
    }

    /// <summary>Receives the batch's datagrams <paramref name="indexes"/> in order, each alone and whole, then nothing more.</summary>
    private static async Task ReceiveExactlyAsync(UdpChannel receiver, IEnumerable<int> indexes)
    {
        byte[] buffer = new byte[64 * 1024];
        foreach (int i in indexes)
        {
            DatagramReceiveResult received = await receiver.ReceiveAsync(buffer).AsTask().WaitAsync(s_timeout);
            Assert.False(received.IsTruncated);
            Assert.Equal(Datagram(i, s_batch[i].Length), buffer.AsSpan(0, received.ReceivedBytes).ToArray());
        }
        using CancellationTokenSource quiet = new(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => receiver.ReceiveAsync(buffer, quiet.Token).AsTask());
    }

    /// <summary>Datagram <paramref name="index"/>: its index in every byte, so a merged, reordered or repeated one shows.</summary>
    private static byte[] Datagram(int index, int length)
    {
        byte[] datagram = new byte[length];
        datagram.AsSpan().Fill((byte)index);
        return datagram;
    }
}
