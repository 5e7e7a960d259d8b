using MNet.Transport.Diagnostics;
using MNet.Transport.Loop;
using MNet.Transport.Native;
using MNet.Transport.Timers;

namespace MNet.Transport.Tcp;

/// <summary>
/// One listening socket on one io_uring loop: a multishot accept that posts a completion per connection until it is
/// cancelled. Out of descriptors or memory it pauses (as its own timer on the loop's wheel) and asks again; out of
/// descriptors, or nearly, it also gives up the process's <see cref="DescriptorReserve"/>, so the runtime and the
/// application have some to run on.
/// </summary>
internal sealed class IoUringAcceptor : TimerEntry, ICompletionHandler, ILoopResident, IConnectionAcceptor
{
    private const byte AcceptOperation = 1;
    private const int BackoffMilliseconds = 100;

    // What one multishot accept may take at once: the whole accept queue (at most net.core.somaxconn, 4096 by
    // default), plus a margin for the process's own descriptors.
    private const int MultishotHeadroom = 4096 + 64;

    // Descriptors a single accept leaves free besides the reserve.
    private const int SpareDescriptors = 2;

    private readonly NativeConnectionListener _listener;
    private readonly IoUringPoller _ring;
    private int _fd;
    private ulong _id;
    private ulong _registration;
    private bool _armed;
    private bool _paused;
    private bool _stopped;
    private bool _scarce; // too near the descriptor limit for a multishot: single accepts (UpdateScarcity)

    public IoUringAcceptor(int fd, EventLoop loop, NativeConnectionListener listener)
    {
        _fd = fd;
        Loop = loop;
        _listener = listener;
        _ring = loop.IoUring;
        DescriptorReserve.AddAcceptor(); // here, not on the loop: it is held by the time binding returns
    }

    public EventLoop Loop { get; }

    public void Start()
    {
        _registration = Loop.Track(this);
        _id = _ring.Register(this);
        _scarce = DescriptorReserve.IsWithin(DescriptorReserve.LowestFree(), MultishotHeadroom);
        ArmWhileReserveHeld();
    }

    public void Stop()
    {
        if (_stopped)
        {
            return;
        }
        _stopped = true;
        DescriptorReserve.RemoveAcceptor();
        if (IsScheduled)
        {
            Loop.Timers.Cancel(this);
        }
        Loop.Unregister(_registration);
        Libc.Close(_fd); // the pending accept still holds the socket until its cancel lands: then it closes
        _fd = -1;
        if (_armed)
        {
            _ring.Cancel(_id, AcceptOperation); // stays registered until the last completion, to close what it brings
            _ring.SubmitNow(); // the socket closes when the accept lets go of it: before unbinding returns
        }
        else
        {
            _ring.Unregister(_id);
        }
    }

    void ILoopResident.OnLoopStopping() => Stop();

    void ICompletionHandler.OnCompletion(byte operation, int result, uint flags)
    {
        _armed &= (flags & IoUring.CQE_F_MORE) != 0;
        if (_stopped)
        {
            if (result >= 0)
            {
                Libc.Close(result); // accepted while the cancel was on its way: nobody will serve it
            }
            if (!_armed)
            {
                _ring.Unregister(_id);
            }
            return;
        }

        if (result >= 0)
        {
            _listener.OnAccepted(Loop, result, peerAddress: default);
            UpdateScarcity(result);
        }
        else
        {
            switch (-result)
            {
                case Errno.EMFILE:
                case Errno.ENFILE:
                    _scarce = true;
                    DescriptorReserve.Release();
                    PauseAccepting(-result);
                    return;
                case Errno.ENOBUFS:
                case Errno.ENOMEM:
                    PauseAccepting(-result);
                    return;
                case Errno.EINTR:
                case Errno.ECONNABORTED:
                case Errno.ECANCELED:
                    break;
                default:
                    MNetTransportLog.AcceptFailed(_listener.Logger, _listener.DisplayName, Errno.ToSocketException(-result));
                    break;
            }
        }
        if (!_armed && !_paused)
        {
            ArmWhileReserveHeld();
        }
    }

    protected internal override void Fire()
    {
        _paused = false;
        if (!_stopped && !_armed)
        {
            ArmWhileReserveHeld();
        }
    }

    /// <summary>
    /// Near the descriptor limit, accepts go one at a time, each only while the reserve is held, as the epoll acceptor
    /// does. A multishot accept takes the whole queue at once, in the kernel: up to the limit, it would leave the
    /// runtime no descriptor until the loop had served every completion before the EMFILE, and a thread-pool thread
    /// that needs one then (to load an assembly, say) ends the process ("Out of memory."). So a multishot runs only
    /// while a full queue fits under the limit. Descriptors are numbered lowest free first, so the accepted one says
    /// how near the limit the process is.
    /// </summary>
    private void UpdateScarcity(int fd)
    {
        if (!_scarce && DescriptorReserve.IsWithin(fd, MultishotHeadroom))
        {
            _scarce = true;
            if (_armed)
            {
                _ring.Cancel(_id, AcceptOperation); // its last completion arms a single accept
            }
        }
        else if (_scarce && DescriptorReserve.IsFarFrom(fd, MultishotHeadroom))
        {
            _scarce = false;
        }
    }

    private void ArmWhileReserveHeld()
    {
        if (!DescriptorReserve.TryHold())
        {
            PauseAccepting(Errno.EMFILE); // short of descriptors: the reserve could not be taken back
            return;
        }
        if (_scarce && DescriptorReserve.IsWithin(DescriptorReserve.LowestFree(), SpareDescriptors + 1))
        {
            // This accept would leave the process (nearly) none until its completion is served, a loop turn later;
            // the epoll acceptor meets EMFILE in the same call instead.
            DescriptorReserve.Release();
            PauseAccepting(Errno.EMFILE);
            return;
        }
        Arm();
    }

    private unsafe void Arm()
    {
        IoUringSqe* sqe = _ring.GetSqe(_id, AcceptOperation);
        sqe->Opcode = IoUring.OP_ACCEPT;
        sqe->Fd = _fd;
        sqe->IoPriority = _scarce ? (ushort)0 : IoUring.ACCEPT_MULTISHOT;
        sqe->OperationFlags = Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC;
        _armed = true;
    }

    /// <summary>Out of descriptors or memory: the connection stays queued; ask again after a pause instead of spinning.</summary>
    private void PauseAccepting(int errno)
    {
        if (_listener.ShouldLogAcceptPause())
        {
            MNetTransportLog.AcceptPaused(_listener.Logger, _listener.DisplayName, BackoffMilliseconds, Errno.ToSocketException(errno).Message);
        }
        _paused = true;
        if (_armed)
        {
            _ring.Cancel(_id, AcceptOperation);
        }
        Loop.Timers.Schedule(this, MonotonicClock.NowTick() + BackoffMilliseconds);
    }
}
