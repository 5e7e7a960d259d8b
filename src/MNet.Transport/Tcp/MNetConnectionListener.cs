using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using MNet.Transport.Diagnostics;
using MNet.Transport.Loop;
using MNet.Transport.Native;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace MNet.Transport.Tcp;

/// <summary>
/// Listens on one endpoint. IP endpoints get one SO_REUSEPORT socket per loop so the kernel spreads accepts;
/// a Unix socket has one listening socket whose connections are handed to the loops in turn.
/// </summary>
internal sealed class MNetConnectionListener : IConnectionListener
{
    private readonly TcpConnectionSettings[] _settings;
    private readonly LoopGroup _loops;
    private readonly TcpAcceptor[] _acceptors;
    private readonly Channel<TcpConnection> _accepted = Channel.CreateUnbounded<TcpConnection>(
        new UnboundedChannelOptions { SingleReader = true });
    private readonly bool _noDelay;
    private readonly bool _isWildcard;
    private int _unbound;

    private MNetConnectionListener(EndPoint endPoint, int[] fds, LoopGroup loops, TcpConnectionSettings[] settings, bool noDelay, ILogger logger)
    {
        EndPoint = endPoint;
        Logger = logger;
        _loops = loops;
        _settings = settings;
        _noDelay = noDelay && endPoint is IPEndPoint;
        _isWildcard = endPoint is IPEndPoint ip && (ip.Address.Equals(IPAddress.Any) || ip.Address.Equals(IPAddress.IPv6Any));
        _acceptors = new TcpAcceptor[fds.Length];
        for (int i = 0; i < fds.Length; i++)
        {
            _acceptors[i] = new TcpAcceptor(fds[i], loops[i], this);
            loops[i].Schedule(static state => ((TcpAcceptor)state!).Start(), _acceptors[i]);
        }
    }

    public EndPoint EndPoint { get; }

    public ILogger Logger { get; }

    /// <summary>Binds and starts accepting on <paramref name="endPoint"/>.</summary>
    public static MNetConnectionListener Bind(EndPoint endPoint, LoopGroup loops, TcpConnectionSettings[] settings, int backlog, bool noDelay, ILogger logger)
    {
        bool perLoopSockets = endPoint is IPEndPoint;
        int[] fds = new int[perLoopSockets ? loops.Count : 1];
        int opened = 0;
        try
        {
            for (; opened < fds.Length; opened++)
            {
                fds[opened] = ListenSocket.Open(endPoint, backlog, reusePort: perLoopSockets);
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

        MNetTransportLog.Listening(logger, endPoint, fds.Length);
        return new MNetConnectionListener(endPoint, fds, loops, settings, noDelay, logger);
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

        if (EndPoint is UnixDomainSocketEndPoint unix && unix.ToString() is { Length: > 0 } path && path[0] is not ('\0' or '@'))
        {
            File.Delete(path);
        }
    }

    public ValueTask DisposeAsync() => UnbindAsync();

    /// <summary>Called by an acceptor on its loop thread for each accepted socket.</summary>
    internal void OnAccepted(EventLoop acceptingLoop, int fd, ReadOnlySpan<byte> peerAddress)
    {
        if (_noDelay)
        {
            Libc.SetIntOption(fd, Libc.IPPROTO_TCP, Libc.TCP_NODELAY, 1);
        }

        EndPoint? local = _isWildcard ? SockAddr.GetSockName(fd, EndPoint.AddressFamily) : EndPoint;
        EndPoint? remote = SockAddr.ReadIP(peerAddress);
        EventLoop loop = _acceptors.Length == 1 && _loops.Count > 1 ? _loops.Next() : acceptingLoop;
        TcpConnection connection = new(fd, _settings[loop.Id], local, remote);

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

    private static Task StopAsync(TcpAcceptor acceptor)
    {
        TaskCompletionSource stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
        acceptor.Loop.Schedule(
            static state =>
            {
                var (acceptor, stopped) = ((TcpAcceptor, TaskCompletionSource))state!;
                acceptor.Stop();
                stopped.SetResult();
            },
            (acceptor, stopped));
        return stopped.Task;
    }
}
