using MNet.Transport.Diagnostics;
using MNet.Transport.Loop;
using MNet.Transport.Native;
using MNet.Transport.Timers;

namespace MNet.Transport.Tcp;

/// <summary>
/// One listening socket on one loop: drains accept4 on each readiness edge. It is also its own back-off timer on the
/// loop's wheel: out of descriptors, nothing may need one (a timer thread, a wake-up), or accepting would never resume.
/// </summary>
internal sealed unsafe class TcpAcceptor : TimerEntry, IPollHandler, IConnectionAcceptor
{
    private const int BackoffMilliseconds = 100;

    private readonly NativeConnectionListener _listener;
    private int _fd;
    private ulong _registration;
    private bool _paused;

    public TcpAcceptor(int fd, EventLoop loop, NativeConnectionListener listener)
    {
        _fd = fd;
        Loop = loop;
        _listener = listener;
        DescriptorReserve.AddAcceptor(); // here, not on the loop: it is held by the time binding returns
    }

    public EventLoop Loop { get; }

    /// <summary>Starts accepting. Loop thread only.</summary>
    public void Start() => _registration = Loop.Register(_fd, this);

    /// <summary>Stops accepting and closes the listening socket. Loop thread only; idempotent.</summary>
    public void Stop()
    {
        if (_fd < 0)
        {
            return;
        }
        if (IsScheduled)
        {
            Loop.Timers.Cancel(this);
        }
        Loop.Unregister(_registration);
        Libc.Close(_fd);
        _fd = -1;
        DescriptorReserve.RemoveAcceptor();
    }

    void IPollHandler.OnPollEvents(PollEvents events)
    {
        if (!_paused)
        {
            AcceptAvailable();
        }
    }

    void ILoopResident.OnLoopStopping() => Stop();

    private void AcceptAvailable()
    {
        byte* address = stackalloc byte[SockAddr.MaxSize];
        while (_fd >= 0)
        {
            if (!DescriptorReserve.TryHold())
            {
                // Another loop gave the reserve up, or it could not be taken back: the process is short of descriptors.
                PauseAccepting(Errno.EMFILE);
                return;
            }
            int length = SockAddr.MaxSize;
            int fd = Libc.Accept4(_fd, address, &length, Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC);
            if (fd >= 0)
            {
                _listener.OnAccepted(Loop, fd, new ReadOnlySpan<byte>(address, length));
                continue;
            }

            int errno = Errno.Last;
            switch (errno)
            {
                case Errno.EAGAIN:
                    return;
                case Errno.EINTR:
                case Errno.ECONNABORTED:
                    continue;
                case Errno.EMFILE:
                case Errno.ENFILE:
                    DescriptorReserve.Release();
                    PauseAccepting(errno);
                    return;
                case Errno.ENOBUFS:
                case Errno.ENOMEM:
                    PauseAccepting(errno);
                    return;
                default:
                    // A network error on one pending connection (EPROTO, ENETDOWN, EPERM...): log it and take the next,
                    // as accept(2) advises; returning would strand the queue until another connection arrives.
                    MNetTransportLog.AcceptFailed(_listener.Logger, _listener.DisplayName, Errno.ToSocketException(errno));
                    continue;
            }
        }
    }

    /// <summary>Out of descriptors or memory: the pending connection stays queued; retry after a pause instead of spinning.</summary>
    private void PauseAccepting(int errno)
    {
        _paused = true;
        if (_listener.ShouldLogAcceptPause())
        {
            MNetTransportLog.AcceptPaused(_listener.Logger, _listener.DisplayName, BackoffMilliseconds, Errno.ToSocketException(errno).Message);
        }

        Loop.Timers.Schedule(this, MonotonicClock.NowTick() + BackoffMilliseconds);
    }

    protected internal override void Fire()
    {
        _paused = false;
        AcceptAvailable(); // pauses again while the reserve cannot be taken back
    }
}
