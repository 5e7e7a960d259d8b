using System.IO.Pipelines;
using System.Net;
using System.Runtime.InteropServices;
using MNet.Transport.Diagnostics;
using MNet.Transport.Dns;
using MNet.Transport.Loop;
using MNet.Transport.Memory;
using MNet.Transport.Tcp;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MNet.Transport.Hosting;

/// <summary>
/// The event loops, memory pool and per-loop connection settings behind one public entry point (the Kestrel
/// transport, the standalone server, the client factory). Loops start with the first use.
/// </summary>
internal sealed class TransportRuntime : IAsyncDisposable
{
    // The loop of host-less UDP channels and resolvers: epoll where it runs, whose loops read datagrams themselves
    // (on an io_uring loop a UDP channel runs on .NET's socket engine).
    private static readonly Lazy<TransportRuntime> s_shared = new(() => new TransportRuntime(
        new MNetTransportOptions { LoopCount = 1, Backend = IsEpollAvailable ? MNetBackend.Epoll : MNetBackend.Portable },
        NullLogger.Instance));

    // Whether this kernel gives the process io_uring does not change while it runs: asked once, by the first Auto.
    private static readonly Lazy<string?> s_ioUringRefusal = new(() => ProbeIoUring(refuse: false));

    private readonly MNetTransportOptions _options;
    private readonly bool _isCallerDriven;
    private readonly Lock _lock = new();
    private PinnedBlockMemoryPool? _memoryPool;
    private LoopGroup? _loops;
    private LoopGroup? _datagramLoops;
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
        Backend = options.Backend == MNetBackend.Auto ? ResolveAuto() : Resolve(options.Backend);
        if (options.Backend == MNetBackend.IoUring)
        {
            CreatePoller().Dispose(); // refused here, with the kernel's reason, rather than on a loop thread later
        }
    }

    /// <summary>Whether this process can run the epoll backend: Linux on x64, the only architecture whose packed
    /// <c>epoll_event</c> layout the native bindings use.</summary>
    public static bool IsEpollAvailable => OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64;

    /// <summary>The backend the loops run: <see cref="MNetTransportOptions.Backend"/> with <see cref="MNetBackend.Auto"/> decided.</summary>
    public MNetBackend Backend { get; }

    /// <summary>The loop of channels made without a host or loop of their own; it runs for the life of the process.</summary>
    public static EventLoop SharedLoop => Shared.EnsureStarted().Loops[0];

    /// <summary>The runtime of channels and resolvers made without a host of their own; it runs for the life of the process.</summary>
    public static TransportRuntime Shared => s_shared.Value;

    public MNetTransportOptions Options => _options;

    /// <summary>
    /// A loop for UDP: the next of this runtime's, except on io_uring, whose loops have no datagram path of their own
    /// (a channel there would fall back to .NET's socket engine, a syscall per datagram and no batches). An io_uring
    /// runtime starts as many epoll loops for its datagrams the first time it is asked, and stops them with the rest;
    /// a caller-driven one keeps them on its loop, whose thread is the only one it runs.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The runtime was disposed.</exception>
    public EventLoop NextDatagramLoop()
    {
        LoopGroup loops = EnsureStarted().Loops;
        if (Backend != MNetBackend.IoUring || _isCallerDriven)
        {
            return loops.Next();
        }
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _datagramLoops ??= new LoopGroup(_options.LoopCount, static () => new EpollPoller(), Logger);
            return _datagramLoops.Next();
        }
    }

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
                _loops = _isCallerDriven ? new LoopGroup(CreatePoller(), Logger) : new LoopGroup(_options.LoopCount, CreatePoller, Logger);
                PipeScheduler applicationScheduler = _isCallerDriven ? _loops[0].Scheduler
                    : _options.UnsafePreferInlineScheduling ? PipeScheduler.Inline
                    : PipeScheduler.ThreadPool;
                _settings = new TcpConnectionSettings[_loops.Count];
                for (int i = 0; i < _settings.Length; i++)
                {
                    (PipeScheduler receive, PipeScheduler send) = TransportSchedulers(_loops[i]);
                    _settings[i] = new TcpConnectionSettings(_loops[i], _memoryPool, applicationScheduler, receive, send, _options, Logger);
                }
            }
            return (_loops, _settings!);
        }
    }

    /// <summary>Binds a stream listener on <paramref name="endPoint"/> with this runtime's backend.</summary>
    public IConnectionListener Bind(EndPoint endPoint) => Backend == MNetBackend.Portable
        ? PortableConnectionListener.Bind(endPoint, this)
        : NativeConnectionListener.Bind(endPoint, this);

    /// <summary>Connects to an IP or Unix endpoint on <paramref name="settings"/>' loop with this runtime's backend.</summary>
    public Task<TcpConnection> ConnectAsync(EndPoint remote, TcpConnectionSettings settings, CancellationToken cancellationToken)
        => Backend switch
        {
            MNetBackend.Epoll => EpollConnection.ConnectAsync(remote, settings, cancellationToken),
            MNetBackend.IoUring => IoUringConnection.ConnectAsync(remote, settings, cancellationToken),
            _ => PortableConnection.ConnectAsync(remote, settings, cancellationToken),
        };

    /// <summary>Stops the loops (aborting what is still open on them) and frees the pool.</summary>
    public async ValueTask DisposeAsync()
    {
        LoopGroup? loops, datagramLoops;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            loops = _loops;
            datagramLoops = _datagramLoops;
        }

        _resolver?.Dispose();
        if (datagramLoops is not null)
        {
            await datagramLoops.DisposeAsync().ConfigureAwait(false);
        }
        if (loops is not null)
        {
            await loops.DisposeAsync().ConfigureAwait(false);
        }
        _memoryPool?.Dispose();
    }

    /// <summary>io_uring where the kernel gives it, else epoll (saying once why), else the portable backend.</summary>
    private MNetBackend ResolveAuto()
    {
        if (!IsEpollAvailable)
        {
            return MNetBackend.Portable;
        }
        string? refusal = _options.RefuseIoUringForTesting ? ProbeIoUring(refuse: true) : s_ioUringRefusal.Value;
        if (refusal is null)
        {
            return MNetBackend.IoUring;
        }
        MNetTransportLog.IoUringUnavailable(Logger, refusal);
        return MNetBackend.Epoll;
    }

    /// <summary>Makes (and frees) a ring as a loop would; null if that works, else why not.</summary>
    private static string? ProbeIoUring(bool refuse)
    {
        try
        {
            new IoUringPoller(refuse, fileSlots: 0).Dispose();
            return null;
        }
        catch (Exception ex) when (ex is PlatformNotSupportedException or System.Net.Sockets.SocketException)
        {
            return ex.Message;
        }
    }

    private static MNetBackend Resolve(MNetBackend requested) => requested switch
    {
        MNetBackend.Epoll or MNetBackend.IoUring when !IsEpollAvailable => throw new PlatformNotSupportedException(
            $"The {requested} backend needs Linux on x64; this is {RuntimeInformation.OSDescription} on {RuntimeInformation.ProcessArchitecture}. Use {nameof(MNetBackend)}.{nameof(MNetBackend.Auto)} or {nameof(MNetBackend.Portable)}."),
        _ => requested,
    };

    /// <summary>
    /// Where each connection's receive and send loops resume. The epoll backend does its I/O on the loop, as does a
    /// caller-driven loop (inside RunOnce). The portable backend receives where .NET's engine completed an operation
    /// (a hop to the loop thread would cost a wake-up per request) and sends from a thread-pool work item, as Kestrel's
    /// Sockets transport does: responses flushed one after another (pipelining) leave in one send, where sending
    /// inline on each flush made one send per response (pipelined ×16, pinned: 0.30× Sockets' requests/s inline,
    /// 1.37× queued).
    /// </summary>
    private (PipeScheduler Receive, PipeScheduler Send) TransportSchedulers(EventLoop loop)
        => Backend != MNetBackend.Portable || _isCallerDriven ? (loop.Scheduler, loop.Scheduler) : (PipeScheduler.Inline, PipeScheduler.ThreadPool);

    private IPoller CreatePoller() => Backend switch
    {
        MNetBackend.Epoll => new EpollPoller(),
        MNetBackend.IoUring => new IoUringPoller(_options.RefuseIoUringForTesting, _options.IoUringFileSlots, _options.IoUringPlainRingForTesting),
        _ => new SignalPoller(),
    };
}
