using System.Net;
using MNet.Transport.Hosting;
using MNet.Transport.Loop;
using MNet.Transport.Tests.Infrastructure;
using MNet.Transport.Udp;
using Microsoft.Extensions.Logging.Abstractions;

namespace MNet.Transport.Tests.Server;

public sealed class UdpServerTests
{
    private const int MaxDatagram = 65507; // the largest UDP payload over IPv4
    private static readonly IPEndPoint AnyLoopbackPort = new(IPAddress.Loopback, 0);
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task Echo_OfOneHundredThousandDatagramsFromOneToMaximumSize_ReturnsEachWhole(MNetBackend backend)
    {
        await using ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenUdp(
            AnyLoopbackPort, d => d.ReplyAsync(d.Data), u => u.Channel.ReceiveBufferSize = 1 << 20));
        IPEndPoint server = host.Server.UdpEndPoints[0];
        using UdpChannel client = UdpChannel.Bind(AnyLoopbackPort, new UdpChannelOptions { ReceiveBufferSize = 1 << 20 });

        const int count = 100_000;
        // Flow control keeps what is in flight (payload plus the kernel's per-datagram overhead) well under both
        // sockets' receive buffers, so loopback drops nothing.
        const int windowDatagrams = 64;
        const int windowBytes = 128 * 1024;
        Dictionary<int, int> inFlight = [];
        long inFlightBytes = 0;
        byte[] datagram = new byte[MaxDatagram];
        byte[] reply = new byte[MaxDatagram + 1];
        int next = 0;
        int verified = 0;
        while (verified < count)
        {
            while (next < count && inFlight.Count < windowDatagrams && (inFlight.Count == 0 || inFlightBytes + SizeOf(next) <= windowBytes))
            {
                int size = SizeOf(next);
                Fill(datagram.AsSpan(0, size), next);
                await client.SendToAsync(datagram.AsMemory(0, size), server);
                int sentKey = Key(datagram.AsSpan(0, size));
                inFlight[sentKey] = inFlight.GetValueOrDefault(sentKey) + 1;
                inFlightBytes += size;
                next++;
            }

            DatagramReceiveResult result = await client.ReceiveAsync(reply).AsTask().WaitAsync(s_timeout);
            Assert.False(result.IsTruncated);
            Assert.Equal(server, result.RemoteEndPoint);
            ReadOnlySpan<byte> echoed = reply.AsSpan(0, result.ReceivedBytes);
            int key = Key(echoed);
            Assert.True(inFlight.TryGetValue(key, out int outstanding), $"reply of {echoed.Length} bytes matches nothing sent");
            int index = IndexOf(echoed);
            if (index >= 0)
            {
                Assert.Equal(SizeOf(index), echoed.Length);
                Fill(datagram.AsSpan(0, echoed.Length), index);
                Assert.True(echoed.SequenceEqual(datagram.AsSpan(0, echoed.Length)), $"datagram {index} came back changed");
            }
            if (outstanding == 1)
            {
                inFlight.Remove(key);
            }
            else
            {
                inFlight[key] = outstanding - 1;
            }
            inFlightBytes -= echoed.Length;
            verified++;
        }
        Assert.Empty(inFlight);

        // Sizes spread over the whole range, both ends included.
        static int SizeOf(int i) => i switch
        {
            0 => 1,
            1 => MaxDatagram,
            _ when i % 10 == 0 => 1 + (int)((long)i * 7919 % MaxDatagram),
            _ => 1 + (i * 31 % 1472),
        };

        // Datagrams of 4 bytes or more carry their index first, then a pattern derived from it; shorter ones carry
        // the low bytes of the index, so identical short datagrams in flight are interchangeable.
        static void Fill(Span<byte> destination, int i)
        {
            Span<byte> index = stackalloc byte[4];
            BitConverter.TryWriteBytes(index, i);
            for (int k = 0; k < destination.Length; k++)
            {
                destination[k] = k < 4 ? index[k] : (byte)((i * 7) + (k * 13));
            }
        }

        static int IndexOf(ReadOnlySpan<byte> echoed) => echoed.Length >= 4 ? BitConverter.ToInt32(echoed) : -1;

        static int Key(ReadOnlySpan<byte> data) => data.Length >= 4
            ? BitConverter.ToInt32(data)
            : -(data.Length << 24 | (data.Length > 1 ? data[1] << 8 : 0) | data[0]) - 1;
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task Flood_FasterThanTheHandler_DropsAndCountsDatagrams_AndTheQueueStaysBounded(MNetBackend backend)
    {
        const int capacity = 16;
        TaskCompletionSource release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        int handled = 0;
        using MetricCounter dropped = new("mnet.udp.datagrams.dropped");
        await using ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenUdp(
            AnyLoopbackPort,
            async d =>
            {
                await release.Task;
                Interlocked.Increment(ref handled);
            },
            u => u.QueueCapacity = capacity));
        IPEndPoint server = host.Server.UdpEndPoints[0];
        using UdpChannel flooder = UdpChannel.Bind(AnyLoopbackPort);

        const int sent = 5_000;
        byte[] payload = new byte[100];
        try
        {
            // Bursts small enough for the socket buffer, so it is the listener, not the kernel, that drops.
            for (int i = 0; i < sent; i++)
            {
                await flooder.SendToAsync(payload, server);
                if (i % 50 == 49)
                {
                    await Task.Delay(1);
                }
            }

            // The receiver keeps draining the socket while the handler is stuck: past the queue, datagrams are dropped.
            DateTime until = DateTime.UtcNow + s_timeout;
            while (host.Server.DroppedDatagrams < sent / 2 && DateTime.UtcNow < until)
            {
                await Task.Delay(20);
            }
        }
        finally
        {
            release.TrySetResult();
        }

        long droppedWhileStuck = host.Server.DroppedDatagrams;
        Assert.True(droppedWhileStuck >= sent / 2, $"only {droppedWhileStuck} of {sent} datagrams were dropped");
        Assert.Equal(droppedWhileStuck, dropped.Total);
        DateTime deadline = DateTime.UtcNow + s_timeout;
        while (Volatile.Read(ref handled) < capacity + 1 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        await Task.Delay(100);
        // The one being handled when the flood began and a full queue: nothing more was kept.
        Assert.Equal(capacity + 1, Volatile.Read(ref handled));
        Assert.True(handled + droppedWhileStuck <= sent);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task Stop_LeavesAStuckHandlerBehind_AtTheShutdownTimeout(MNetBackend backend)
    {
        TaskCompletionSource entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        TaskCompletionSource never = new();
        ServerHost host = await ServerHost.StartAsync(
            backend,
            o => o.ListenUdp(AnyLoopbackPort, async d =>
            {
                entered.TrySetResult();
                await never.Task;
            }),
            shutdownTimeout: TimeSpan.FromMilliseconds(300));
        using UdpChannel client = UdpChannel.Bind(AnyLoopbackPort);
        await client.SendToAsync(new byte[] { 1 }, host.Server.UdpEndPoints[0]);
        await entered.Task.WaitAsync(s_timeout);

        await host.DisposeAsync().AsTask().WaitAsync(s_timeout);
        Assert.Contains(host.Log.Entries, e => e.EventId.Id == 108);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task HandlerThatThrows_IsLogged_AndTheListenerKeepsServing(MNetBackend backend)
    {
        await using ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenUdp(AnyLoopbackPort, d =>
            d.Data.Span[0] == 0 ? throw new InvalidOperationException("bad datagram") : d.ReplyAsync(d.Data)));
        IPEndPoint server = host.Server.UdpEndPoints[0];
        using UdpChannel client = UdpChannel.Bind(AnyLoopbackPort);

        await client.SendToAsync(new byte[] { 0 }, server);
        await client.SendToAsync(new byte[] { 1 }, server);
        byte[] reply = new byte[4];
        DatagramReceiveResult result = await client.ReceiveAsync(reply).AsTask().WaitAsync(s_timeout);
        Assert.Equal(1, result.ReceivedBytes);
        Assert.Equal(1, reply[0]);
        Assert.Contains(host.Log.Entries, e => e.Exception is InvalidOperationException { Message: "bad datagram" });
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task Stop_ClosesTheUdpSocket(MNetBackend backend)
    {
        UdpChannel.Bind(AnyLoopbackPort).Dispose(); // the process's shared loop stays once started: count it in the baseline
        int baseline = ProcessResources.OpenFileDescriptors;
        ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenUdp(AnyLoopbackPort, d => d.ReplyAsync(d.Data)));
        IPEndPoint server = host.Server.UdpEndPoints[0];
        await host.DisposeAsync();

        // The port is free again, and no descriptor is left behind once the loops are gone.
        using UdpChannel rebound = UdpChannel.Bind(server);
        rebound.Dispose();
        Assert.Equal(baseline, await ProcessResources.SettleAsync(() => ProcessResources.OpenFileDescriptors, baseline));
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task Dispose_WithoutStop_ClosesTheUdpSocket(MNetBackend backend)
    {
        ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenUdp(AnyLoopbackPort, d => d.ReplyAsync(d.Data)));
        IPEndPoint server = host.Server.UdpEndPoints[0];

        host.DisposeWithoutStopping();

        using UdpChannel rebound = UdpChannel.Bind(server); // AddressAlreadyInUse while the listener's socket is open
    }

    [Theory]
    [InlineData(MNetBackend.Epoll)]
    [InlineData(MNetBackend.IoUring)]
    public async Task DatagramLoops_PollDescriptors_SoUdpChannelsBatch_EvenOnIoUring(MNetBackend backend)
    {
        await using TransportRuntime runtime = new(new MNetTransportOptions { Backend = backend, LoopCount = 1 }, NullLogger.Instance);
        EventLoop own = runtime.EnsureStarted().Loops[0];

        EventLoop datagrams = runtime.NextDatagramLoop();

        Assert.Equal(backend == MNetBackend.Epoll, own.PollsDescriptors);
        Assert.True(datagrams.PollsDescriptors);
        Assert.Equal(backend == MNetBackend.Epoll, ReferenceEquals(own, datagrams));
        using UdpChannel channel = UdpChannel.Bind(AnyLoopbackPort, null, datagrams);
        Assert.IsType<EpollUdpChannel>(channel);
    }
}
