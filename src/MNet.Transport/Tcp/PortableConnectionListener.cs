using System.Net;
using System.Net.Sockets;
using MNet.Transport.Diagnostics;
using MNet.Transport.Hosting;
using MNet.Transport.Loop;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace MNet.Transport.Tcp;

/// <summary>
/// The portable backend's listener: one listening <see cref="Socket"/>, accepted in the caller's
/// <see cref="AcceptAsync"/>; each connection goes to the next loop in turn.
/// </summary>
internal sealed class PortableConnectionListener : IConnectionListener
{
    private const int AcceptPauseMilliseconds = 100;

    private readonly Socket _socket;
    private readonly LoopGroup _loops;
    private readonly TcpConnectionSettings[] _settings;
    private readonly ILogger _logger;
    private readonly string _displayName;
    private readonly LogThrottle _acceptPauseLog = new(TimeSpan.FromSeconds(10));
    private readonly LogThrottle _acceptErrorLog = new(TimeSpan.FromSeconds(10));
    private int _unbound;

    private PortableConnectionListener(Socket socket, EndPoint endPoint, LoopGroup loops, TcpConnectionSettings[] settings, ILogger logger)
    {
        _socket = socket;
        EndPoint = endPoint;
        _loops = loops;
        _settings = settings;
        _logger = logger;
        _displayName = ListenEndPoints.DisplayName(endPoint);
        MNetTransportLog.Listening(logger, _displayName, 1);
    }

    public EndPoint EndPoint { get; }

    /// <summary>
    /// Binds <paramref name="endPoint"/> (IP, Unix, or an inherited listening socket's <see cref="FileHandleEndPoint"/>,
    /// whose handle the listener then owns) and starts listening.
    /// </summary>
    /// <exception cref="AddressInUseException">The address is taken.</exception>
    /// <exception cref="NotSupportedException"><paramref name="endPoint"/> is none of these.</exception>
    public static PortableConnectionListener Bind(EndPoint endPoint, TransportRuntime runtime)
    {
        ListenEndPoints.ThrowIfCannotBind(endPoint);
        (LoopGroup loops, TcpConnectionSettings[] settings) = runtime.EnsureStarted();
        Socket socket = endPoint is FileHandleEndPoint handle ? Adopt(handle) : Listen(endPoint, runtime.Options.Backlog);
        EndPoint bound = endPoint is FileHandleEndPoint ? endPoint : socket.LocalEndPoint!;
        return new PortableConnectionListener(socket, bound, loops, settings, runtime.Logger);
    }

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Socket accepted;
            try
            {
                accepted = await _socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (Volatile.Read(ref _unbound) != 0 && ex is ObjectDisposedException or SocketException)
            {
                return null;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable)
            {
                if (_acceptPauseLog.ShouldLog())
                {
                    MNetTransportLog.AcceptPaused(_logger, _displayName, AcceptPauseMilliseconds, ex.Message);
                }
                await PauseAcceptingAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionAborted or SocketError.ConnectionReset or SocketError.Interrupted)
            {
                continue; // the peer gave up while it waited in the backlog
            }
            catch (SocketException ex)
            {
                // Anything else may well repeat: pause rather than spin, and say so now and then.
                if (_acceptErrorLog.ShouldLog())
                {
                    MNetTransportLog.AcceptFailed(_logger, _displayName, ex);
                }
                await PauseAcceptingAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (Start(accepted) is { } connection)
            {
                return connection;
            }
        }
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _unbound, 1) == 0)
        {
            _socket.Dispose(); // ends an accept in progress
            ListenEndPoints.DeleteUnixSocketFile(EndPoint);
        }
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => UnbindAsync();

    // The system clock, not a loop's: the loops may be gone while a caller still accepts.
    private static Task PauseAcceptingAsync(CancellationToken cancellationToken)
        => Task.Delay(TimeSpan.FromMilliseconds(AcceptPauseMilliseconds), TimeProvider.System, cancellationToken);

    private static Socket Listen(EndPoint endPoint, int backlog)
    {
        Socket socket = new(endPoint.AddressFamily, SocketType.Stream, endPoint is IPEndPoint ? ProtocolType.Tcp : ProtocolType.Unspecified);
        try
        {
            if (endPoint is IPEndPoint { AddressFamily: AddressFamily.InterNetworkV6 } ip)
            {
                // Only the IPv6 wildcard is dual-stack, as with Kestrel's Sockets transport.
                socket.DualMode = ip.Address.Equals(IPAddress.IPv6Any);
            }
            socket.Bind(endPoint);
            socket.Listen(backlog);
            return socket;
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            socket.Dispose();
            throw new AddressInUseException($"{ex.Message} ({endPoint})", ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static Socket Adopt(FileHandleEndPoint endPoint)
    {
        if (endPoint.FileHandle > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(endPoint), endPoint.FileHandle, "The handle is not a socket descriptor.");
        }

        // Checked through a handle that does not own it, so a handle that is refused stays open for its owner.
        try
        {
            using Socket probe = new(new SafeSocketHandle((nint)endPoint.FileHandle, ownsHandle: false));
            if (probe.SocketType != SocketType.Stream || (int)probe.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.AcceptConnection)! == 0)
            {
                throw new ArgumentException($"Handle {endPoint.FileHandle} is not a listening stream socket.", nameof(endPoint));
            }
        }
        catch (Exception ex) when (ex is SocketException or ArgumentException and not { ParamName: nameof(endPoint) })
        {
            throw new ArgumentException($"Handle {endPoint.FileHandle} is not a listening stream socket: {ex.Message}", nameof(endPoint), ex);
        }
        return new Socket(new SafeSocketHandle((nint)endPoint.FileHandle, ownsHandle: true));
    }

    private PortableConnection? Start(Socket accepted)
    {
        EndPoint? local;
        EndPoint? remote;
        EventLoop loop = _loops.Next();
        TcpConnectionSettings settings = _settings[loop.Id];
        try
        {
            if (settings.NoDelay && accepted.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
            {
                accepted.NoDelay = true;
            }
            local = accepted.LocalEndPoint;
            remote = accepted.RemoteEndPoint;
        }
        catch (SocketException ex)
        {
            // The peer is already gone: drop this one and keep accepting.
            accepted.Dispose();
            MNetTransportLog.AcceptFailed(_logger, _displayName, ex);
            return null;
        }

        PortableConnection connection = new(accepted, settings, local, remote);
        loop.Schedule(static state => ((PortableConnection)state!).Start(), connection);
        return connection;
    }
}
