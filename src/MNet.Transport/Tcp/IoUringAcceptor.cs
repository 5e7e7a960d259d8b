using MNet.Transport.Diagnostics;
using MNet.Transport.Loop;
using MNet.Transport.Native;
using MNet.Transport.Timers;

namespace MNet.Transport.Tcp;

/// <summary>
/// One listening socket on one io_uring loop: a multishot accept that posts a completion per connection until it is
/// cancelled. Out of descriptors or memory it pauses (as its own timer on the loop's wheel) and asks again; out of
/// descriptors, it also gives up the process's <see cref="DescriptorReserve"/>, so the application has some to run on.
/// </summary>
internal sealed class IoUringAcceptor : TimerEntry, ICompletionHandler, ILoopResident, IConnectionAcceptor
{
    private const byte AcceptOperation = 1;
    private const int BackoffMilliseconds = 100;

    private readonly NativeConnectionListener _listener;
    private readonly IoUringPoller _ring;
    private int _fd;
    private ulong _id;
    private ulong _registration;
    private bool _armed;
    private bool _paused;
    private bool _stopped;

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
        Arm();
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
        }
        else
        {
            switch (-result)
            {
                case Errno.EMFILE:
                case Errno.ENFILE:
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
            Arm();
        }
    }

    protected internal override void Fire()
    {
        _paused = false;
        if (_stopped || _armed)
        {
            return;
        }
        if (!DescriptorReserve.TryHold())
        {
            PauseAccepting(Errno.EMFILE); // still short: the reserve could not be taken back
            return;
        }
        Arm();
    }

    private unsafe void Arm()
    {
        IoUringSqe* sqe = _ring.GetSqe(_id, AcceptOperation);
        sqe->Opcode = IoUring.OP_ACCEPT;
        sqe->Fd = _fd;
        sqe->IoPriority = IoUring.ACCEPT_MULTISHOT;
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
