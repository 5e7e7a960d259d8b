using System.Net;
using System.Net.Sockets;
using MNet.Transport.Hosting;
using MNet.Transport.Loop;
using MNet.Transport.Native;

namespace MNet.Transport.Udp;

/// <summary>
/// A UDP socket on an MNet event loop that keeps message boundaries: each receive returns one datagram, and one
/// that does not fit the buffer is reported as truncated, never silently cut. Receives and sends run the syscall
/// on the calling thread when the socket is ready and wait on the loop only when it is not; a burst of small
/// datagrams is read with one recvmmsg.
/// </summary>
/// <remarks>
/// One receive may be outstanding at a time; sends may come from any number of threads. Dispose completes a
/// pending receive with <see cref="ObjectDisposedException"/>.
/// </remarks>
public sealed partial class UdpChannel : IDisposable, IPollHandler
{
    private readonly EventLoop _loop;
    private readonly Lock _lock = new();
    private int _fd;
    private ulong _registration;
    private Exception? _loopFailure;

    private UdpChannel(int fd, IPEndPoint localEndPoint, EventLoop loop, bool completeReceivesInline)
    {
        _fd = fd;
        _loop = loop;
        LocalEndPoint = localEndPoint;
        _receiveOperation = new ReceiveOperation(runContinuationsAsynchronously: !completeReceivesInline);
        // Registered on the loop; until then the socket already works from the calling thread, and epoll reports a
        // readiness that predates the registration when it is added.
        loop.Schedule(static state => ((UdpChannel)state!).Register(), this);
    }

    /// <summary>The address and port the channel is bound to (a port the system chose when 0 was asked for).</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>The peer set by <see cref="Connect"/>, or null while the channel takes datagrams from anyone.</summary>
    public IPEndPoint? RemoteEndPoint { get; private set; }

    /// <summary>Binds a channel to <paramref name="localEndPoint"/> on the process's shared MNet loop.</summary>
    /// <param name="localEndPoint">An IPv4 or IPv6 address; port 0 picks a free port. <see cref="IPAddress.IPv6Any"/> also receives IPv4.</param>
    /// <param name="options">Socket options, or null for the defaults.</param>
    /// <exception cref="SocketException">The address is in use or not available.</exception>
    public static UdpChannel Bind(IPEndPoint localEndPoint, UdpChannelOptions? options = null)
        => Bind(localEndPoint, options, TransportRuntime.SharedLoop);

    /// <param name="localEndPoint">The address to bind.</param>
    /// <param name="options">Socket options, or null for the defaults.</param>
    /// <param name="loop">The loop that waits for the socket.</param>
    /// <param name="completeReceivesInline">
    /// Runs the continuation of a receive that had to wait on the thread that completes it (the loop's, for a
    /// datagram) instead of the thread pool: for the transport's own short, non-blocking continuations only.
    /// </param>
    internal static unsafe UdpChannel Bind(IPEndPoint localEndPoint, UdpChannelOptions? options, EventLoop loop, bool completeReceivesInline = false)
    {
        ArgumentNullException.ThrowIfNull(localEndPoint);
        options ??= new UdpChannelOptions();
        options.Validate();
        if (localEndPoint.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
        {
            throw new ArgumentException($"A UDP channel binds an IPv4 or IPv6 address, not {localEndPoint.AddressFamily}.", nameof(localEndPoint));
        }

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
            return new UdpChannel(fd, bound, loop, completeReceivesInline);
        }
        catch
        {
            Libc.Close(fd);
            throw;
        }
    }

    /// <summary>
    /// Fixes the peer: <see cref="SendAsync"/> goes to it, only its datagrams are received, and an ICMP error it
    /// causes (port unreachable) fails the next send or receive with a <see cref="SocketException"/>.
    /// </summary>
    public unsafe void Connect(IPEndPoint remoteEndPoint)
    {
        ArgumentNullException.ThrowIfNull(remoteEndPoint);
        remoteEndPoint = MatchFamily(remoteEndPoint);
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

    /// <summary>Closes the socket. A pending receive fails with <see cref="ObjectDisposedException"/>; later calls throw it.</summary>
    public void Dispose()
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
        _loop.Schedule(static state => ((UdpChannel)state!).ForgetRegistration(), this);
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

    void ILoopResident.OnLoopStopping() => Dispose();

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

    /// <summary>An IPv4 peer of a dual-stack IPv6 socket is addressed as IPv4-mapped IPv6.</summary>
    private IPEndPoint MatchFamily(IPEndPoint endPoint)
    {
        if (endPoint.AddressFamily == LocalEndPoint.AddressFamily)
        {
            return endPoint;
        }
        if (LocalEndPoint.AddressFamily == AddressFamily.InterNetworkV6 && endPoint.AddressFamily == AddressFamily.InterNetwork)
        {
            return new IPEndPoint(endPoint.Address.MapToIPv6(), endPoint.Port);
        }
        throw new ArgumentException($"An IPv4 channel cannot reach the IPv6 address {endPoint}.", nameof(endPoint));
    }

    /// <summary>Closed by <see cref="Dispose"/>; read and changed under the lock.</summary>
    private bool IsDisposed => _fd < 0;

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, this);
}
