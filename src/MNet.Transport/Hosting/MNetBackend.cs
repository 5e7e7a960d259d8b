namespace MNet.Transport.Hosting;

/// <summary>Which I/O engine the event loops drive; see <see cref="MNetTransportOptions.Backend"/>.</summary>
public enum MNetBackend
{
    /// <summary>
    /// <see cref="IoUring"/> where the kernel gives the process io_uring, else <see cref="Epoll"/> (logging once, at
    /// Information level, why io_uring was refused) on Linux x64, and <see cref="Portable"/> elsewhere.
    /// </summary>
    Auto,

    /// <summary>
    /// The native loop: nonblocking sockets registered edge-triggered with Linux epoll, read and written by the loop
    /// thread itself. Linux on x64 only.
    /// </summary>
    Epoll,

    /// <summary>
    /// .NET's own socket engine (<see cref="System.Net.Sockets.Socket"/> asynchronous operations: epoll on Linux,
    /// kqueue on macOS and BSD, IOCP on Windows) feeding the same pipes, loops and timers. Runs wherever .NET runs.
    /// </summary>
    Portable,

    /// <summary>
    /// Linux io_uring (6.0 or later), one ring per loop: multishot accepts, multishot receives into buffers lent to
    /// the kernel, sockets registered with the ring, and sends submitted in batches (a long buffer as a chain of
    /// linked sends) that leave with the loop's next wait. <see cref="Auto"/> picks it where it works. Where the
    /// kernel refuses io_uring (disabled by sysctl, blocked by seccomp, too old), asking for it by name fails when the
    /// transport is created, with the kernel's reason. Linux on x64 only.
    /// </summary>
    IoUring,
}
