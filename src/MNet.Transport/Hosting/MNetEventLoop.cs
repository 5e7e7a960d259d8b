using System.Net;
using MNet.Transport.Loop;
using MNet.Transport.Tcp;
using MNet.Transport.Timers;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MNet.Transport.Hosting;

/// <summary>
/// An event loop that the thread creating it drives by calling <see cref="RunOnce"/>, in the manner of m_net's
/// <c>mnet_poll</c>: no loop thread of its own, nothing runs in the background. I/O, the pipe continuations of its
/// connections and every continuation of an await made on that thread (through a <see cref="SynchronizationContext"/>
/// it installs there) run inside <see cref="RunOnce"/>.
/// </summary>
/// <remarks>
/// Listeners, connections and the loop itself belong to the creating thread: call <see cref="RunOnce"/> and
/// <see cref="Dispose"/> there, and do not block that thread waiting for I/O the loop has not yet run.
/// </remarks>
public sealed class MNetEventLoop : IConnectionListenerFactory, IConnectionFactory, IDisposable
{
    private readonly TransportRuntime _runtime;
    private readonly EventLoop _loop;
    private readonly SynchronizationContext? _previousContext;
    private readonly LoopSynchronizationContext _context;
    private bool _disposed;

    /// <summary>Creates a loop driven by the calling thread, with default <see cref="MNetTransportOptions"/>.</summary>
    public MNetEventLoop()
        : this(new MNetTransportOptions(), NullLoggerFactory.Instance)
    {
    }

    /// <summary>
    /// Creates a loop driven by the calling thread and installs its <see cref="SynchronizationContext"/> there.
    /// <see cref="MNetTransportOptions.LoopCount"/> and <see cref="MNetTransportOptions.UnsafePreferInlineScheduling"/>
    /// do not apply: there is one loop, and application code runs on it.
    /// </summary>
    public MNetEventLoop(MNetTransportOptions options, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _runtime = new TransportRuntime(options, loggerFactory.CreateLogger("MNet.Transport"), isCallerDriven: true);
        _loop = _runtime.EnsureStarted().Loops[0];
        _context = new LoopSynchronizationContext(_loop);
        _previousContext = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(_context);
    }

    /// <summary>
    /// Timers on this loop: their callbacks, and the continuations of <c>Task.Delay(delay, TimeProvider)</c> awaited
    /// on this thread, run inside <see cref="RunOnce"/>, which sleeps no longer than the next timer allows.
    /// </summary>
    public LoopTimeProvider TimeProvider => _loop.TimeProvider;

    /// <summary>
    /// Binds <paramref name="endpoint"/> (an <see cref="IPEndPoint"/>, a <see cref="System.Net.Sockets.UnixDomainSocketEndPoint"/>
    /// or a <see cref="FileHandleEndPoint"/> of an inherited listening socket) at once; connections are accepted inside
    /// <see cref="RunOnce"/>.
    /// </summary>
    /// <exception cref="AddressInUseException">The address is in use.</exception>
    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return new ValueTask<IConnectionListener>(_runtime.Bind(endpoint));
    }

    /// <summary>
    /// Connects to <paramref name="endpoint"/> (as <see cref="MNetConnectionFactory.ConnectAsync"/> does); the connect
    /// completes inside <see cref="RunOnce"/>. Cancel <paramref name="cancellationToken"/> to time it out.
    /// </summary>
    public ValueTask<ConnectionContext> ConnectAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
        => TcpConnector.ConnectAsync(endpoint, _runtime, cancellationToken);

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for I/O readiness or posted work, runs what is ready, and returns.
    /// Work posted while it runs waits for the next call, so I/O is never starved.
    /// </summary>
    /// <param name="timeout">How long to wait when nothing is ready: <see cref="TimeSpan.Zero"/> polls,
    /// <see cref="Timeout.InfiniteTimeSpan"/> waits until something is.</param>
    /// <returns>How many I/O events, timers and work items ran; 0 when the wait timed out.</returns>
    /// <exception cref="InvalidOperationException">Called from another thread, or from work this loop is running.</exception>
    /// <exception cref="ObjectDisposedException">The loop was disposed.</exception>
    public int RunOnce(TimeSpan timeout)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long milliseconds = (long)Math.Ceiling(timeout.TotalMilliseconds); // never wake before the timeout
        if (timeout != Timeout.InfiniteTimeSpan)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(milliseconds, nameof(timeout));
            ArgumentOutOfRangeException.ThrowIfGreaterThan(milliseconds, int.MaxValue, nameof(timeout));
        }
        return _loop.RunOnce((int)milliseconds);
    }

    /// <summary>
    /// Aborts what is still open on the loop, closes its listeners, frees its buffers and restores the thread's
    /// previous <see cref="SynchronizationContext"/>. Call it on the creating thread, outside <see cref="RunOnce"/>.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        // Stops the loop inline, on this thread (or throws, changing nothing, when called from the wrong place), so
        // disposing the runtime afterwards completes synchronously.
        _ = _loop.StopAsync();
        _disposed = true;
        _runtime.DisposeAsync().AsTask().GetAwaiter().GetResult();
        if (SynchronizationContext.Current == _context)
        {
            SynchronizationContext.SetSynchronizationContext(_previousContext);
        }
    }
}
