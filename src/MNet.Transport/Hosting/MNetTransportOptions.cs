using MNet.Transport.Dns;
using MNet.Transport.Loop;

namespace MNet.Transport.Hosting;

/// <summary>Options for the MNet event-loop transport.</summary>
public sealed class MNetTransportOptions
{
    /// <summary>
    /// The number of event loops (threads each owning a poller, a work queue and timers). Defaults to the processor count.
    /// </summary>
    public int LoopCount { get; set; } = Environment.ProcessorCount;

    /// <summary>
    /// The I/O engine behind the loops. Defaults to <see cref="MNetBackend.Auto"/>: io_uring on Linux x64 where the
    /// kernel allows it, else epoll, and the portable backend elsewhere. Asking for <see cref="MNetBackend.Epoll"/> or
    /// <see cref="MNetBackend.IoUring"/> where it is missing (or the kernel refuses io_uring) fails when the transport is
    /// created, with a <see cref="PlatformNotSupportedException"/> that says why.
    /// </summary>
    public MNetBackend Backend { get; set; }

    /// <summary>Makes io_uring setup fail as a kernel that refuses it would: for tests of that path.</summary>
    internal bool RefuseIoUringForTesting { get; set; }

    /// <summary>How many sockets each io_uring loop registers with its ring; the rest are named by descriptor.</summary>
    internal int IoUringFileSlots { get; set; } = IoUringPoller.DefaultFileSlots;

    /// <summary>Sets io_uring rings up as a kernel before 6.1 would, without deferred task work: for tests of that path.</summary>
    internal bool IoUringPlainRingForTesting { get; set; }

    /// <summary>The maximum length of each listening socket's queue of pending connections. Defaults to 512.</summary>
    public int Backlog { get; set; } = 512;

    /// <summary>Sets TCP_NODELAY on accepted TCP connections, disabling Nagle's algorithm. Defaults to true.</summary>
    public bool NoDelay { get; set; } = true;

    /// <summary>
    /// The most received bytes buffered before the application reads them; the loop stops reading from the socket
    /// beyond this (backpressure). Defaults to 1 MiB; null means no limit.
    /// </summary>
    public long? MaxReadBufferSize { get; set; } = 1024 * 1024;

    /// <summary>
    /// The most bytes the application may write ahead of the socket before its flushes wait. Defaults to 64 KiB;
    /// null means no limit.
    /// </summary>
    public long? MaxWriteBufferSize { get; set; } = 64 * 1024;

    /// <summary>
    /// Runs application code inline on the event loop instead of the thread pool. Faster for applications that never
    /// block; a single blocking call stalls every connection on that loop. Defaults to false.
    /// </summary>
    public bool UnsafePreferInlineScheduling { get; set; }

    /// <summary>
    /// How long a client connect (<see cref="MNetConnectionFactory.ConnectAsync"/>, all addresses of a host name
    /// included) may take before it fails with a <see cref="System.Net.Sockets.SocketException"/> of
    /// <see cref="System.Net.Sockets.SocketError.TimedOut"/>. Timed on the event loop's timers. Defaults to
    /// <see cref="Timeout.InfiniteTimeSpan"/>: only the caller's token ends a connect.
    /// </summary>
    public TimeSpan ConnectTimeout { get; set; } = Timeout.InfiniteTimeSpan;

    /// <summary>
    /// How client connects resolve a <see cref="System.Net.DnsEndPoint"/>: the servers, search domains, timeouts and
    /// hosts file of the <see cref="DnsResolver"/> they use. Defaults to null: the system's settings (/etc/resolv.conf).
    /// </summary>
    public DnsResolverOptions? Dns { get; set; }

    internal void Validate()
    {
        Dns?.Validate();
        if (ConnectTimeout <= TimeSpan.Zero && ConnectTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(ConnectTimeout), ConnectTimeout, $"{nameof(ConnectTimeout)} must be positive or Timeout.InfiniteTimeSpan.");
        }
        if (!Enum.IsDefined(Backend))
        {
            throw new ArgumentOutOfRangeException(nameof(Backend), Backend, $"{nameof(Backend)} must be one of {string.Join(", ", Enum.GetNames<MNetBackend>())}.");
        }
        if (LoopCount < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(LoopCount), LoopCount, $"{nameof(LoopCount)} must be at least 1.");
        }
        if (Backlog < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Backlog), Backlog, $"{nameof(Backlog)} must be at least 1.");
        }
        if (MaxReadBufferSize < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxReadBufferSize), MaxReadBufferSize, $"{nameof(MaxReadBufferSize)} must not be negative.");
        }
        if (MaxWriteBufferSize < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxWriteBufferSize), MaxWriteBufferSize, $"{nameof(MaxWriteBufferSize)} must not be negative.");
        }
    }
}
