using System.Collections.Concurrent;
using System.Net;
using MNet.Transport.Diagnostics;
using MNet.Transport.Hosting;
using MNet.Transport.Loop;
using MNet.Transport.Tcp;
using MNet.Transport.Udp;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MNet.Transport.Server;

/// <summary>
/// A hosted service that serves the connection pipelines of <see cref="MNetServerOptions"/> on MNet event loops,
/// without HTTP. Registered by <c>AddMNetServer</c>. Stopping unbinds every endpoint, waits for open connections
/// until the host's shutdown timeout cancels the wait, then aborts the rest.
/// </summary>
public sealed class MNetServer : IHostedService, IAsyncDisposable
{
    private static readonly TimeSpan s_abortGracePeriod = TimeSpan.FromSeconds(1);

    private readonly MNetServerOptions _options;
    private readonly IServiceProvider _services;
    private readonly ILogger _logger;
    private readonly TransportRuntime _runtime;
    private readonly List<(IConnectionListener Listener, Task AcceptLoop)> _listeners = [];
    private readonly List<UdpListener> _udpListeners = [];
    private readonly ConcurrentDictionary<ConnectionContext, byte> _connections = new();
    private readonly TaskCompletionSource _allClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopping;

    /// <summary>Creates the server; nothing is bound until <see cref="StartAsync"/>.</summary>
    public MNetServer(
        IOptions<MNetServerOptions> options,
        IOptions<MNetTransportOptions> transportOptions,
        IServiceProvider services,
        ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(transportOptions);
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _options = options.Value;
        _options.Validate();
        _services = services;
        _logger = loggerFactory.CreateLogger<MNetServer>();
        _runtime = new TransportRuntime(transportOptions.Value, loggerFactory.CreateLogger("MNet.Transport"));
    }

    /// <summary>The bound stream endpoints, in the order they were configured (ports chosen by the system filled in).</summary>
    public IReadOnlyList<EndPoint> EndPoints => _listeners.Select(l => l.Listener.EndPoint).ToArray();

    /// <summary>The bound UDP endpoints, in the order they were configured.</summary>
    public IReadOnlyList<IPEndPoint> UdpEndPoints => _udpListeners.Select(l => l.EndPoint).ToArray();

    /// <summary>Datagrams the UDP listeners dropped so far because their handler's queue was full.</summary>
    public long DroppedDatagrams => _udpListeners.Sum(l => l.DroppedDatagrams);

    /// <summary>The number of connections currently being served.</summary>
    public int ConnectionCount => _connections.Count;

    /// <summary>Binds every configured endpoint and starts accepting. A failed bind unbinds the ones before it.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_options.Listeners.Count == 0 && _options.UdpListeners.Count == 0)
        {
            throw new InvalidOperationException("No endpoints are configured: call ListenTcp, ListenUnix, ListenHandle or ListenUdp in AddMNetServer.");
        }

        try
        {
            foreach (ListenerDefinition definition in _options.Listeners)
            {
                ConnectionBuilder builder = new(_services);
                definition.Configure(builder);
                ConnectionDelegate application = builder.Build();

                IConnectionListener listener = _runtime.Bind(definition.EndPoint);
                _listeners.Add((listener, AcceptLoopAsync(listener, application)));
                MNetServerLog.Listening(_logger, ListenEndPoints.DisplayName(listener.EndPoint));
            }

            foreach (UdpListenerDefinition definition in _options.UdpListeners)
            {
                EventLoop loop = _runtime.NextDatagramLoop();
                UdpListener listener = new(definition.EndPoint, definition.Handler, definition.Options, loop, _logger);
                _udpListeners.Add(listener);
                MNetServerLog.Listening(_logger, $"udp://{listener.EndPoint}");
            }
        }
        catch
        {
            await UnbindAllAsync().ConfigureAwait(false);
            foreach (UdpListener listener in _udpListeners)
            {
                await listener.StopAsync(CancellationToken.None).ConfigureAwait(false);
            }
            await _runtime.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Stops accepting, waits for open connections to finish until <paramref name="cancellationToken"/> is canceled
    /// (the host's shutdown timeout), then aborts the rest and stops the event loops.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        await UnbindAllAsync().ConfigureAwait(false);
        foreach (UdpListener listener in _udpListeners)
        {
            if (!await listener.StopAsync(cancellationToken).ConfigureAwait(false))
            {
                MNetServerLog.DatagramHandlerStillRunning(_logger, listener.EndPoint);
            }
        }

        if (_connections.IsEmpty)
        {
            _allClosed.TrySetResult();
        }

        try
        {
            await _allClosed.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            MNetServerLog.AbortingConnections(_logger, _connections.Count);
            foreach (ConnectionContext connection in _connections.Keys)
            {
                connection.Abort(new ConnectionAbortedException("The server is shutting down."));
            }
            try
            {
                await _allClosed.Task.WaitAsync(s_abortGracePeriod, CancellationToken.None).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                MNetServerLog.ConnectionsStillRunning(_logger, _connections.Count);
            }
        }

        await _runtime.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Stops the event loops if the host did not stop the server.</summary>
    public ValueTask DisposeAsync() => _runtime.DisposeAsync();

    private async Task UnbindAllAsync()
    {
        foreach ((IConnectionListener listener, _) in _listeners)
        {
            await listener.UnbindAsync().ConfigureAwait(false);
        }
        await Task.WhenAll(_listeners.Select(l => l.AcceptLoop)).ConfigureAwait(false);
    }

    private async Task AcceptLoopAsync(IConnectionListener listener, ConnectionDelegate application)
    {
        while (await listener.AcceptAsync().ConfigureAwait(false) is { } connection)
        {
            _connections.TryAdd(connection, 0);
            if (_options.IdleTimeout != Timeout.InfiniteTimeSpan && connection is TcpConnection tcp)
            {
                tcp.StartIdleTimeout(_options.IdleTimeout);
            }
            // Queued so a handler that blocks before its first await cannot stall accepting.
            _ = Task.Run(() => RunConnectionAsync(connection, application));
        }
    }

    private async Task RunConnectionAsync(ConnectionContext connection, ConnectionDelegate application)
    {
        try
        {
            await application(connection).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ConnectionResetException or ConnectionAbortedException)
        {
            // The peer reset the connection, or the server aborted it (idle timeout, shutdown): not the handler's bug.
            MNetServerLog.ConnectionEndedByTransport(_logger, connection.ConnectionId, ex.Message);
        }
        catch (Exception ex)
        {
            MNetServerLog.ConnectionHandlerFailed(_logger, connection.ConnectionId, ex);
        }
        finally
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            _connections.TryRemove(connection, out _);
            if (_stopping && _connections.IsEmpty)
            {
                _allClosed.TrySetResult();
            }
        }
    }
}
