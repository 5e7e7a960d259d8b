using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using MNet.Transport.Diagnostics;
using MNet.Transport.Loop;
using MNet.Transport.Memory;
using MNet.Transport.Tcp;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MNet.Transport.Hosting;

/// <summary>
/// Binds TCP and Unix domain socket endpoints on MNet event loops. Registered by
/// <c>UseMNetTransport()</c>; Kestrel asks <see cref="CanBind"/> first and falls back to its Sockets transport
/// for endpoints this factory does not serve.
/// </summary>
public sealed class MNetTransportFactory : IConnectionListenerFactory, IConnectionListenerFactorySelector, IAsyncDisposable
{
    private readonly MNetTransportOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private PinnedBlockMemoryPool? _memoryPool;
    private LoopGroup? _loops;
    private TcpConnectionSettings[]? _settings;
    private bool _disposed;
    private bool _warnedPlatform;

    /// <summary>Creates the factory; event loops start with the first bind.</summary>
    public MNetTransportFactory(IOptions<MNetTransportOptions> options, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _options = options.Value;
        _options.Validate();
        _logger = loggerFactory.CreateLogger("MNet.Transport");
    }

    /// <summary>Whether the platform has an event loop backend (Linux epoll).</summary>
    public static bool IsSupported => OperatingSystem.IsLinux();

    /// <inheritdoc />
    public bool CanBind(EndPoint endpoint)
    {
        if (!IsSupported)
        {
            if (!_warnedPlatform)
            {
                _warnedPlatform = true;
                MNetTransportLog.PlatformNotSupported(_logger);
            }
            return false;
        }

        return endpoint switch
        {
            IPEndPoint ip => ip.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6,
            UnixDomainSocketEndPoint => true,
            _ => false,
        };
    }

    /// <inheritdoc />
    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (!IsSupported)
        {
            throw new PlatformNotSupportedException("The MNet transport needs Linux (epoll); use Kestrel's Sockets transport on this platform.");
        }
        if (!CanBind(endpoint))
        {
            throw new NotSupportedException($"The MNet transport cannot bind {endpoint.GetType().Name} '{endpoint}'.");
        }

        (LoopGroup loops, TcpConnectionSettings[] settings) = EnsureStarted();
        MNetConnectionListener listener = MNetConnectionListener.Bind(endpoint, loops, settings, _options.Backlog, _options.NoDelay, _logger);
        return new ValueTask<IConnectionListener>(listener);
    }

    /// <summary>Stops the event loops; connections still open are aborted.</summary>
    public async ValueTask DisposeAsync()
    {
        LoopGroup? loops;
        lock (_lock)
        {
            _disposed = true;
            loops = _loops;
        }

        if (loops is not null)
        {
            await loops.DisposeAsync().ConfigureAwait(false);
        }
        _memoryPool?.Dispose();
    }

    private (LoopGroup, TcpConnectionSettings[]) EnsureStarted()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_loops is null)
            {
                _memoryPool = new PinnedBlockMemoryPool();
                _loops = new LoopGroup(_options.LoopCount, _logger);
                PipeScheduler applicationScheduler = _options.UnsafePreferInlineScheduling ? PipeScheduler.Inline : PipeScheduler.ThreadPool;
                _settings = new TcpConnectionSettings[_loops.Count];
                for (int i = 0; i < _settings.Length; i++)
                {
                    _settings[i] = new TcpConnectionSettings(
                        _loops[i],
                        _memoryPool,
                        applicationScheduler,
                        _options.MaxReadBufferSize ?? 0,
                        _options.MaxWriteBufferSize ?? 0,
                        _logger);
                }
            }
            return (_loops, _settings!);
        }
    }
}
