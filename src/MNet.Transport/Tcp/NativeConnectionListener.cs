using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using MNet.Transport.Diagnostics;
using MNet.Transport.Hosting;
using MNet.Transport.Loop;
using MNet.Transport.Native;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace MNet.Transport.Tcp;

/// <summary>
/// The listener of the native backends (epoll, io_uring) on one endpoint. IP endpoints get one SO_REUSEPORT socket
/// per loop so the kernel spreads accepts; a Unix socket has one listening socket whose connections are handed to
/// the loops in turn. Each socket's acceptor is the backend's: readiness and accept4 (<see cref="TcpAcceptor"/>), or
/// a multishot accept on the ring (<see cref="IoUringAcceptor"/>).
/// </summary>
internal sealed class NativeConnectionListener : IConnectionListener
{
    private readonly TcpConnectionSettings[] _settings;
    private readonly LoopGroup _loops;
    private readonly IConnectionAcceptor[] _acceptors;
    private readonly bool _ioUring;
    private readonly LogThrottle _acceptPauseLog = new(TimeSpan.FromSeconds(10));
    private readonly Channel<TcpConnection> _accepted = Channel.CreateUnbounded<TcpConnection>(
        new UnboundedChannelOptions { SingleReader = true });
    private readonly AddressFamily _family;
    private readonly bool _noDelayPerSocket;
    private readonly bool _localIsExact;
    private int _unbound;

    private NativeConnectionListener(EndPoint endPoint, AddressFamily family, int[] fds, LoopGroup loops, TcpConnectionSettings[] settings, ILogger logger, bool ioUring, bool adopted)
    {
        EndPoint = endPoint;
        DisplayName = ListenEndPoints.DisplayName(endPoint);
        Logger = logger;
        _loops = loops;
        _settings = settings;
        _family = family;
        // A listener this transport opened passes TCP_NODELAY on to what it accepts; an inherited one is left as it
        // is (other processes may share it), so each socket it accepts gets the option.
        _noDelayPerSocket = adopted && settings[0].NoDelay && family is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6;
        _localIsExact = endPoint switch
        {
            IPEndPoint ip => !ip.Address.Equals(IPAddress.Any) && !ip.Address.Equals(IPAddress.IPv6Any),
            UnixDomainSocketEndPoint => true,
            _ => false, // an inherited handle: ask each accepted socket
        };
        _ioUring = ioUring;
        _acceptors = new IConnectionAcceptor[fds.Length];
        for (int i = 0; i < fds.Length; i++)
        {
            _acceptors[i] = ioUring ? new IoUringAcceptor(fds[i], loops[i], this) : new TcpAcceptor(fds[i], loops[i], this);
            loops[i].Schedule(static state => ((IConnectionAcceptor)state!).Start(), _acceptors[i]);
        }
        MNetTransportLog.Listening(logger, DisplayName, fds.Length);
    }

    public EndPoint EndPoint { get; }

    /// <summary>How logs name this listener's endpoint.</summary>
    public string DisplayName { get; }

    /// <summary>
    /// Whether an accept pause (out of descriptors or memory) is to be logged now: at most once per 10 s for all of
    /// this listener's sockets together, however many loops hit it. Any thread.
    /// </summary>
    public bool ShouldLogAcceptPause() => _acceptPauseLog.ShouldLog();

    public ILogger Logger { get; }

    /// <summary>
    /// Binds and starts accepting on <paramref name="endPoint"/>: an <see cref="IPEndPoint"/>, a
    /// <see cref="UnixDomainSocketEndPoint"/>, or a <see cref="FileHandleEndPoint"/> naming a listening stream socket
    /// this process inherited (the listener takes ownership of it).
    /// </summary>
    /// <exception cref="NotSupportedException"><paramref name="endPoint"/> is none of these.</exception>
    public static NativeConnectionListener Bind(EndPoint endPoint, TransportRuntime runtime)
    {
        bool ioUring = runtime.Backend == MNetBackend.IoUring;
        ListenEndPoints.ThrowIfCannotBind(endPoint);
        (LoopGroup loops, TcpConnectionSettings[] settings) = runtime.EnsureStarted();
        if (endPoint is FileHandleEndPoint handle)
        {
            (int fd, AddressFamily family) = ListenSocket.Adopt(handle);
            return new NativeConnectionListener(endPoint, family, [fd], loops, settings, runtime.Logger, ioUring, adopted: true);
        }

        bool perLoopSockets = endPoint is IPEndPoint;
        int[] fds = new int[perLoopSockets ? loops.Count : 1];
        int opened = 0;
        try
        {
            for (; opened < fds.Length; opened++)
            {
                fds[opened] = ListenSocket.Open(endPoint, runtime.Options.Backlog, reusePort: perLoopSockets, noDelay: settings[0].NoDelay);
                if (opened == 0 && endPoint is IPEndPoint { Port: 0 } ip)
                {
                    // The rest of the group shares the port the kernel picked.
                    endPoint = new IPEndPoint(ip.Address, ((IPEndPoint)SockAddr.GetSockName(fds[0], ip.AddressFamily)!).Port);
                }
            }
        }
        catch
        {
            for (int i = 0; i < opened; i++)
            {
                Libc.Close(fds[i]);
            }
            throw;
        }

        return new NativeConnectionListener(endPoint, endPoint.AddressFamily, fds, loops, settings, runtime.Logger, ioUring, adopted: false);
    }

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (await _accepted.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (_accepted.Reader.TryRead(out TcpConnection? connection))
            {
                return connection;
            }
        }
        return null;
    }

    public async ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _unbound, 1) != 0)
        {
            return;
        }

        await Task.WhenAll(_acceptors.Select(StopAsync)).ConfigureAwait(false);
        _accepted.Writer.TryComplete();
        while (_accepted.Reader.TryRead(out TcpConnection? orphan))
        {
            orphan.Abort(new ConnectionAbortedException("The listener was unbound before the connection was accepted."));
            await orphan.DisposeAsync().ConfigureAwait(false);
        }

        ListenEndPoints.DeleteUnixSocketFile(EndPoint);
    }

    public ValueTask DisposeAsync() => UnbindAsync();

    /// <summary>Called by an acceptor on its loop thread for each accepted socket (an empty <paramref name="peerAddress"/>: ask the socket).</summary>
    internal void OnAccepted(EventLoop acceptingLoop, int fd, ReadOnlySpan<byte> peerAddress)
    {
        EndPoint? local;
        EndPoint? remote;
        try
        {
            if (_noDelayPerSocket)
            {
                Libc.SetIntOption(fd, Libc.IPPROTO_TCP, Libc.TCP_NODELAY, 1);
            }
            local = _localIsExact ? EndPoint : SockAddr.GetSockName(fd, _family);
            remote = peerAddress.IsEmpty ? SockAddr.GetPeerName(fd, _family) : SockAddr.ReadIP(peerAddress);
        }
        catch (SocketException ex)
        {
            // The peer is already gone (ECONNRESET, EINVAL): drop this one and keep accepting.
            Libc.Close(fd);
            MNetTransportLog.AcceptFailed(Logger, DisplayName, ex);
            return;
        }

        EventLoop loop = _acceptors.Length == 1 && _loops.Count > 1 ? _loops.Next() : acceptingLoop;
        TcpConnection connection = _ioUring
            ? new IoUringConnection(fd, _settings[loop.Id], local, remote)
            : new EpollConnection(fd, _settings[loop.Id], local, remote);

        if (loop == acceptingLoop)
        {
            connection.Start();
        }
        else
        {
            loop.Schedule(static state => ((TcpConnection)state!).Start(), connection);
        }

        if (!_accepted.Writer.TryWrite(connection))
        {
            // Unbound meanwhile: nobody will take it; the abort closes it on its loop.
            connection.Abort(new ConnectionAbortedException("The listener is unbound."));
        }
    }

    private static Task StopAsync(IConnectionAcceptor acceptor)
    {
        TaskCompletionSource stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
        acceptor.Loop.Schedule(
            static state =>
            {
                var (acceptor, stopped) = ((IConnectionAcceptor, TaskCompletionSource))state!;
                acceptor.Stop();
                stopped.SetResult();
            },
            (acceptor, stopped));
        return stopped.Task;
    }
}
