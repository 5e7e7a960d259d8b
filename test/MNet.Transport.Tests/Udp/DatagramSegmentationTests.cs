using System.Net;
using MNet.Transport.Hosting;
using MNet.Transport.Native;
using MNet.Transport.Tests.Infrastructure;
using MNet.Transport.Udp;

namespace MNet.Transport.Tests.Udp;

/// <summary>
/// A batch whose datagrams have one length and one destination leaves the epoll channel as one message the kernel
/// cuts into them (UDP_SEGMENT); the receiver must still see each datagram on its own, whole and in order.
/// </summary>
public sealed class DatagramSegmentationTests
{
    private const int SO_NO_CHECK = 11; // no UDP checksums on send, which a segmented send cannot do without
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);

    // Runs of equal lengths to the connected peer and to an address, one at the segment limit, one over it, and
    // lengths that change every datagram.
    private static readonly (int Length, bool Addressed)[] s_batch =
    [
        .. Enumerable.Repeat((100, false), 10),
        .. Enumerable.Repeat((DatagramSendBatch.MaxSegmentLength, false), 4),
        .. Enumerable.Repeat((DatagramSendBatch.MaxSegmentLength + 1, false), 3),
        .. Enumerable.Repeat((100, true), 6),
        .. Enumerable.Range(1, 9).Select(i => (i, false)),
    ];

    public static TheoryData<MNetBackend, bool> BackendsAndSenders => new()
    {
        { MNetBackend.Epoll, false },
        { MNetBackend.Epoll, true },
        { MNetBackend.Portable, false },
        { MNetBackend.Portable, true },
        { MNetBackend.IoUring, false },
        { MNetBackend.IoUring, true },
    };

    [Theory]
    [MemberData(nameof(BackendsAndSenders))]
    public async Task SendBatchAsync_RunsOfEqualDatagrams_ArriveOneByOne_WholeAndInOrder(MNetBackend backend, bool dualStackSender)
    {
        using UdpChannel receiver = UdpChannel.Bind(new IPEndPoint(IPAddress.Loopback, 0), null, TestLoops.Shared(backend));
        IPAddress senderAddress = dualStackSender ? IPAddress.IPv6Any : IPAddress.Loopback; // IPv4 peers as IPv4-mapped
        using UdpChannel sender = UdpChannel.Bind(new IPEndPoint(senderAddress, 0), null, TestLoops.Shared(backend));
        sender.Connect(receiver.LocalEndPoint);

        await SendAndVerifyAsync(sender, receiver);

        if (sender is EpollUdpChannel epoll)
        {
            Assert.True(epoll.SegmentsBatches); // this kernel (6.x) has UDP_SEGMENT and loopback takes it
        }
    }

    [Fact]
    public async Task SendBatchAsync_WhereTheSocketRefusesSegments_SendsEachDatagramAlone_FromThenOn()
    {
        using UdpChannel receiver = UdpChannel.Bind(new IPEndPoint(IPAddress.Loopback, 0), null, TestLoops.Shared(MNetBackend.Epoll));
        EpollUdpChannel sender = Assert.IsType<EpollUdpChannel>(
            UdpChannel.Bind(new IPEndPoint(IPAddress.Loopback, 0), null, TestLoops.Shared(MNetBackend.Epoll)));
        using (sender)
        {
            sender.Connect(receiver.LocalEndPoint);
            sender.SetIntOption(Libc.SOL_SOCKET, SO_NO_CHECK, 1); // the kernel now answers a segmented send with EINVAL

            await SendAndVerifyAsync(sender, receiver);
            Assert.False(sender.SegmentsBatches);
            await SendAndVerifyAsync(sender, receiver);
        }
    }

    private static async Task SendAndVerifyAsync(UdpChannel sender, UdpChannel receiver)
    {
        DatagramSendBatch batch = new();
        for (int i = 0; i < s_batch.Length; i++)
        {
            byte[] datagram = Datagram(i, s_batch[i].Length);
            Assert.True(s_batch[i].Addressed ? batch.TryAdd(datagram, receiver.LocalEndPoint) : batch.TryAdd(datagram));
        }

        await sender.SendBatchAsync(batch).AsTask().WaitAsync(s_timeout);

        Assert.Equal(0, batch.Count);
        byte[] buffer = new byte[64 * 1024];
        for (int i = 0; i < s_batch.Length; i++)
        {
            DatagramReceiveResult received = await receiver.ReceiveAsync(buffer).AsTask().WaitAsync(s_timeout);
            Assert.False(received.IsTruncated);
            Assert.Equal(Datagram(i, s_batch[i].Length), buffer.AsSpan(0, received.ReceivedBytes).ToArray());
        }
    }

    /// <summary>Datagram <paramref name="index"/>: its index in every byte, so a merged or reordered one shows.</summary>
    private static byte[] Datagram(int index, int length)
    {
        byte[] datagram = new byte[length];
        datagram.AsSpan().Fill((byte)index);
        return datagram;
    }
}
