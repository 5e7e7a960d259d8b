using System.Net;
using System.Net.Sockets;
using MNet.Transport.Loop;
using MNet.Transport.Tests.Infrastructure;

namespace MNet.Transport.Tests.Loop;

/// <summary>
/// The <see cref="IPoller"/> contract, run against every backend's poller; the <see cref="IReadinessPoller"/> part
/// against those that report readiness.
/// </summary>
public sealed class PollerContractTests
{
    private const ulong Token = 0x0000_0007_0000_002A;

    // "io_uring-plain": the ring a kernel before 6.1 gives (no deferred task work), which this machine's kernel would not.
    public static TheoryData<string> Backends => new() { "epoll", "portable", "io_uring", "io_uring-plain" };

    public static TheoryData<string> ReadinessBackends => new() { "epoll" };

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Wait_WithATimeout_ReturnsNoEvents_NotBeforeTheTimeIsUp(string backend)
    {
        using PollerThread loop = new(() => Create(backend));
        PollEvent[] events = new PollEvent[8];

        (int count, long waited) = await loop.Run(poller =>
        {
            long started = Environment.TickCount64;
            return (poller.Wait(events, 100), Environment.TickCount64 - started);
        });

        Assert.Equal(0, count);
        Assert.True(waited >= 90, $"returned after {waited} ms"); // TickCount64 ticks in 10-16 ms steps
        Assert.Equal(0, await loop.Run(poller => poller.Wait(events, 0)));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Wake_FromAnotherThread_EndsAnUnboundedWait_WithNoEvents(string backend)
    {
        using PollerThread loop = new(() => Create(backend));
        PollEvent[] events = new PollEvent[8];

        Task<int> wait = loop.Run(poller => poller.Wait(events, -1));
        await Task.Delay(50);
        Assert.False(wait.IsCompleted);
        loop.Poller.Wake();

        Assert.Equal(0, await wait.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Wake_BeforeWait_MakesTheNextWaitReturn_IsNotRepeated_AndWorksAgainAfterward(string backend)
    {
        using PollerThread loop = new(() => Create(backend));
        PollEvent[] events = new PollEvent[8];
        // An unbounded wait, so only a wake can end it; a lost wake fails the test at the limit instead of passing late.
        Task<int> UnboundedWait() => loop.Run(poller => poller.Wait(events, -1)).WaitAsync(TimeSpan.FromSeconds(10));

        loop.Poller.Wake();
        loop.Poller.Wake();
        Assert.Equal(0, await UnboundedWait());
        Assert.Equal(0, await loop.Run(poller => poller.Wait(events, 0)));

        loop.Poller.Wake();
        Assert.Equal(0, await UnboundedWait());
        Assert.Equal(0, await loop.Run(poller => poller.Wait(events, 0)));
    }

    [Theory]
    [MemberData(nameof(ReadinessBackends))]
    public async Task Readiness_IsReportedOncePerChange_WithTheRegistrationToken(string backend)
    {
        using IReadinessPoller poller = CreateReadiness(backend);
        (Socket local, Socket peer) = await ConnectedPairAsync();
        using (local)
        using (peer)
        {
            await peer.SendAsync(new byte[] { 1 });
            await Task.Delay(20);
            poller.Add((int)local.Handle, Token);

            PollEvent first = Assert.Single(WaitFor(poller));
            Assert.Equal(Token, first.Token);
            Assert.Equal(PollEvents.Readable | PollEvents.Writable, first.Events);
            Assert.Empty(Poll(poller)); // edge-triggered: unread data does not report again

            await peer.SendAsync(new byte[] { 2 });
            Assert.True(Assert.Single(WaitFor(poller)).Events.HasFlag(PollEvents.Readable));

            peer.Shutdown(SocketShutdown.Send);
            PollEvents closed = Assert.Single(WaitFor(poller)).Events;
            Assert.True(closed.HasFlag(PollEvents.Readable | PollEvents.Closed), closed.ToString());

            byte[] buffer = new byte[8];
            Assert.Equal(2, local.Receive(buffer)); // the data that came before the FIN is still there
            Assert.Equal(0, local.Receive(buffer));
        }
    }

    [Theory]
    [MemberData(nameof(ReadinessBackends))]
    public async Task Remove_StopsEvents(string backend)
    {
        using IReadinessPoller poller = CreateReadiness(backend);
        (Socket local, Socket peer) = await ConnectedPairAsync();
        using (local)
        using (peer)
        {
            poller.Add((int)local.Handle, Token);
            Assert.Single(WaitFor(poller)); // initially writable
            poller.Remove((int)local.Handle);

            await peer.SendAsync(new byte[] { 1 });
            await Task.Delay(20);
            Assert.Empty(Poll(poller));
        }
    }

    [Theory]
    [MemberData(nameof(ReadinessBackends))]
    public async Task OnDemand_ReportsNothingUntilArmed_ThenOnceForWhatWasAsked_EvenIfItWasAlreadyReady(string backend)
    {
        using IReadinessPoller poller = CreateReadiness(backend);
        (Socket local, Socket peer) = await ConnectedPairAsync();
        using (local)
        using (peer)
        {
            poller.AddOnDemand((int)local.Handle, Token);
            await peer.SendAsync(new byte[] { 1 });
            await Task.Delay(20);
            Assert.Empty(Poll(poller)); // writable and readable, but nobody asked

            // Armed from another thread, for readiness that is older than the arming.
            await Task.Run(() => poller.Arm((int)local.Handle, Token, PollEvents.Readable));
            PollEvent armed = Assert.Single(WaitFor(poller));
            Assert.Equal(Token, armed.Token);
            Assert.Equal(PollEvents.Readable, armed.Events);

            await peer.SendAsync(new byte[] { 2 });
            await Task.Delay(20);
            Assert.Empty(Poll(poller)); // used up until armed again

            poller.Arm((int)local.Handle, Token, PollEvents.Writable);
            Assert.Equal(PollEvents.Writable, Assert.Single(WaitFor(poller)).Events);

            Assert.Equal(2, local.Receive(new byte[8]));
            poller.Arm((int)local.Handle, Token, PollEvents.Readable);
            Assert.Empty(Poll(poller)); // drained: nothing to report until new data comes
            await peer.SendAsync(new byte[] { 3 });
            Assert.Equal(PollEvents.Readable, Assert.Single(WaitFor(poller)).Events);
        }
    }

    private static IPoller Create(string backend) => backend switch
    {
        "portable" => new SignalPoller(),
        "io_uring" => new IoUringPoller(),
        "io_uring-plain" => PlainRing(),
        _ => CreateReadiness(backend),
    };

    private static IoUringPoller PlainRing()
    {
        IoUringPoller poller = new(plainRing: true);
        Assert.False(poller.DefersTaskWork);
        return poller;
    }

    private static IReadinessPoller CreateReadiness(string backend) => backend switch
    {
        "epoll" => new EpollPoller(),
        _ => throw new ArgumentOutOfRangeException(nameof(backend), backend, "Unknown backend."),
    };

    private static PollEvent[] WaitFor(IPoller poller)
    {
        PollEvent[] events = new PollEvent[8];
        int count = poller.Wait(events, 10_000);
        return events[..count];
    }

    private static PollEvent[] Poll(IPoller poller)
    {
        PollEvent[] events = new PollEvent[8];
        return events[..poller.Wait(events, 0)];
    }

    private static async Task<(Socket Local, Socket Peer)> ConnectedPairAsync()
    {
        using Socket listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        Socket peer = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await peer.ConnectAsync(listener.LocalEndPoint!);
        Socket local = await listener.AcceptAsync();
        local.Blocking = false;
        return (local, peer);
    }
}
