using System.Net;
using System.Net.Sockets;
using MNet.Transport.Hosting;
using MNet.Transport.Loop;
using MNet.Transport.Native;

namespace MNet.Transport.Udp;

/// <summary>
/// The epoll backend's <see cref="UdpChannel"/>: nonblocking syscalls on the calling thread while the socket is
/// ready, a wait on the loop (armed on demand) only when it is not, and recvmmsg/sendmmsg for bursts.
/// </summary>
internal sealed partial class EpollUdpChannel : UdpChannel, IPollHandler
{
    private readonly EventLoop _loop;
    private readonly Lock _lock = new();
    private int _fd;
    private ulong _registration;
    private Exception? _loopFailure;

    private EpollUdpChannel(int fd, IPEndPoint localEndPoint, EventLoop loop, bool completeReceivesInline)
        : base(localEndPoint)
    {
        _fd = fd;
        _loop = loop;
        _receiveOperation = new ReceiveOperation(runContinuationsAsynchronously: !completeReceivesInline);
        _segmentsBatches = KernelSegmentsDatagrams(fd);
        // Registered on the loop; until then the socket already works from the calling thread, and epoll reports a
        // readiness that predates the registration when it is added.
        loop.Schedule(static state => ((EpollUdpChannel)state!).Register(), this);
    }

    /// <summary>Opens and binds the socket; <see cref="UdpChannel.Bind(IPEndPoint, UdpChannelOptions?, EventLoop, bool)"/> checked the arguments.</summary>
    public static unsafe EpollUdpChannel Open(IPEndPoint localEndPoint, UdpChannelOptions options, EventLoop loop, bool completeReceivesInline)
    {
        int fd = Libc.Socket(SockAddr.FamilyOf(localEndPoint), Libc.SOCK_DGRAM | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw Errno.ToSocketException(Errno.Last, "socket");
        }

        try
        {
            if (options.ReuseAddress)
            {
                Libc.SetIntOption(fd, Libc.SOL_SOCKET, Libc.SO_REUSEADDR, 1);
            }
            if (options.ReceiveBufferSize is int receiveBufferSize)
            {
                Libc.SetIntOption(fd, Libc.SOL_SOCKET, Libc.SO_RCVBUF, receiveBufferSize);
            }
            if (options.SendBufferSize is int sendBufferSize)
            {
                Libc.SetIntOption(fd, Libc.SOL_SOCKET, Libc.SO_SNDBUF, sendBufferSize);
            }
            // Linux otherwise hands a wildcard-bound socket every group's datagrams for its port once any socket on the
            // host joined: a channel gets the groups it joined, and stops getting one when it leaves.
            if (localEndPoint.AddressFamily == AddressFamily.InterNetworkV6)
            {
                int v6Only = localEndPoint.Address.Equals(IPAddress.IPv6Any) ? 0 : 1;
                Libc.SetIntOption(fd, Libc.IPPROTO_IPV6, Libc.IPV6_V6ONLY, v6Only);
                Libc.SetIntOption(fd, Libc.IPPROTO_IPV6, Libc.IPV6_MULTICAST_ALL, 0);
            }
            else
            {
                Libc.SetIntOption(fd, Libc.IPPROTO_IP, Libc.IP_MULTICAST_ALL, 0);
            }

            Span<byte> address = stackalloc byte[SockAddr.MaxIPSize];
            int length = SockAddr.WriteIP(localEndPoint, address);
            fixed (byte* pointer = address)
            {
                if (Libc.Bind(fd, pointer, length) != 0)
                {
                    throw Errno.ToSocketException(Errno.Last, localEndPoint.ToString());
                }
            }

            IPEndPoint bound = (IPEndPoint)SockAddr.GetSockName(fd, localEndPoint.AddressFamily)!;
            return new EpollUdpChannel(fd, bound, loop, completeReceivesInline);
        }
        catch
        {
            Libc.Close(fd);
            throw;
        }
    }

    private protected override unsafe void ConnectCore(IPEndPoint remoteEndPoint)
    {
        Span<byte> address = stackalloc byte[SockAddr.MaxIPSize];
        int length = SockAddr.WriteIP(remoteEndPoint, address);
        lock (_lock)
        {
            ThrowIfDisposed();
            fixed (byte* pointer = address)
            {
                if (Libc.Connect(_fd, pointer, length) != 0)
                {
                    throw Errno.ToSocketException(Errno.Last, remoteEndPoint.ToString());
                }
            }
            RemoteEndPoint = remoteEndPoint;
        }
    }

    private protected override void Close()
    {
        lock (_lock)
        {
            if (IsDisposed)
            {
                return;
            }
            // Closing takes the socket out of epoll; the loop then only frees the registration slot.
            Libc.Close(_fd);
            _fd = -1;
            _batch?.Return();
            _batch = null;
        }
        _loop.Schedule(static state => ((EpollUdpChannel)state!).ForgetRegistration(), this);
        FailPendingOperations(new ObjectDisposedException(GetType().FullName));
    }

    void IPollHandler.OnPollEvents(PollEvents events)
    {
        if ((events & (PollEvents.Readable | PollEvents.Error)) != 0)
        {
            OnReadable();
        }
        if ((events & (PollEvents.Writable | PollEvents.Error)) != 0)
        {
            OnWritable();
        }

        // The event used up the arming; ask again for whatever is still awaited.
        lock (_lock)
        {
            if (!IsDisposed)
            {
                ArmLocked();
            }
        }
    }

    void ILoopResident.OnLoopStopping() => Close();

    private void Register()
    {
        lock (_lock)
        {
            if (IsDisposed)
            {
                return;
            }
            try
            {
                _registration = _loop.RegisterOnDemand(_fd, this);
            }
            catch (Exception ex)
            {
                RecordLoopFailure(ex);
            }
            ArmLocked(); // for what began waiting before the loop got here
        }
    }

    /// <summary>
    /// Asks the loop for one event when the socket can do what is awaited: a pending receive, a send waiting for
    /// room. Until the loop has registered the socket, <see cref="Register"/> does it. Once the loop has failed the
    /// channel, every such wait fails here instead. Caller holds the lock (which the failing re-enters).
    /// </summary>
    private void ArmLocked()
    {
        PollEvents interest = (_receivePending ? PollEvents.Readable : PollEvents.None)
            | (_writableWaiter is not null ? PollEvents.Writable : PollEvents.None);
        if (interest == PollEvents.None)
        {
            return;
        }
        if (_loopFailure is null && _registration != 0)
        {
            try
            {
                _loop.Arm(_fd, _registration, interest);
            }
            catch (Exception ex)
            {
                RecordLoopFailure(ex);
            }
        }
        if (_loopFailure is not null)
        {
            FailPendingOperations(_loopFailure);
        }
    }

    /// <summary>Calls that find the socket ready still work; every wait for the loop fails with this from now on.</summary>
    private void RecordLoopFailure(Exception error)
        => _loopFailure = new InvalidOperationException("The UDP channel's event loop cannot watch its socket, so the channel cannot wait for it.", error);

    private void ForgetRegistration() => _loop.ForgetClosed(_registration);

    private void FailPendingOperations(Exception error)
    {
        CompleteReceive(error);
        ReleaseSenders(error);
    }

    /// <summary>Closed by <see cref="Close"/>; read and changed under the lock.</summary>
    private bool IsDisposed => _fd < 0;

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, this);
}
