using System.IO.Pipelines;
using MNet.Transport.Dns;
using MNet.Transport.Loop;
using MNet.Transport.Memory;
using MNet.Transport.Tcp;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MNet.Transport.Hosting;

/// <summary>
/// The event loops, memory pool and per-loop connection settings behind one public entry point (the Kestrel
/// transport, the standalone server, the client factory). Loops start with the first use.
/// </summary>
internal sealed class TransportRuntime : IAsyncDisposable
{
    private static readonly Lazy<TransportRuntime> s_shared = new(
        () => new TransportRuntime(new MNetTransportOptions { LoopCount = 1 }, NullLogger.Instance));

    private readonly MNetTransportOptions _options;
    private readonly bool _isCallerDriven;
    private readonly Lock _lock = new();
    private PinnedBlockMemoryPool? _memoryPool;
    private LoopGroup? _loops;
    private TcpConnectionSettings[]? _settings;
    private DnsResolver? _resolver;
    private bool _disposed;

    /// <summary>
    /// With <paramref name="isCallerDriven"/>, the runtime has one loop, driven by the thread that first uses the
    /// runtime, which also runs the application's pipe continuations.
    /// </summary>
    public TransportRuntime(MNetTransportOptions options, ILogger logger, bool isCallerDriven = false)
    {
        options.Validate();
        _options = options;
        _isCallerDriven = isCallerDriven;
        Logger = logger;
    }

    /// <summary>The loop of channels made without a host or loop of their own; it runs for the life of the process.</summary>
    public static EventLoop SharedLoop => Shared.EnsureStarted().Loops[0];

    /// <summary>The runtime of channels and resolvers made without a host of their own; it runs for the life of the process.</summary>
    public static TransportRuntime Shared => s_shared.Value;

    public MNetTransportOptions Options => _options;

    public ILogger Logger { get; }

    /// <summary>Resolves host names for client connects, with <see cref="MNetTransportOptions.Dns"/> (or the system's settings).</summary>
    public DnsResolver Resolver
    {
        get
        {
            lock (_lock)
            {
                return _resolver ??= new DnsResolver(_options.Dns ?? DnsResolverOptions.FromResolvConf(), this, TimeProvider.System);
            }
        }
    }

    /// <summary>The running loops and the connection settings of each (indexed by loop id).</summary>
    public (LoopGroup Loops, TcpConnectionSettings[] Settings) EnsureStarted()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_loops is null)
            {
                _memoryPool = new PinnedBlockMemoryPool();
                _loops = _isCallerDriven ? new LoopGroup(Logger) : new LoopGroup(_options.LoopCount, Logger);
                PipeScheduler applicationScheduler = _isCallerDriven ? _loops[0].Scheduler
                    : _options.UnsafePreferInlineScheduling ? PipeScheduler.Inline
                    : PipeScheduler.ThreadPool;
                _settings = new TcpConnectionSettings[_loops.Count];
                for (int i = 0; i < _settings.Length; i++)
                {
                    _settings[i] = new TcpConnectionSettings(_loops[i], _memoryPool, applicationScheduler, _options, Logger);
                }
            }
            return (_loops, _settings!);
        }
    }

    /// <summary>Stops the loops (aborting what is still open on them) and frees the pool.</summary>
    public async ValueTask DisposeAsync()
    {
        LoopGroup? loops;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            loops = _loops;
        }

        _resolver?.Dispose();
        if (loops is not null)
        {
            await loops.DisposeAsync().ConfigureAwait(false);
        }
        _memoryPool?.Dispose();
    }
}
