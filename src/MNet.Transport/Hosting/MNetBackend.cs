namespace MNet.Transport.Hosting;

/// <summary>Which I/O engine the event loops drive; see <see cref="MNetTransportOptions.Backend"/>.</summary>
public enum MNetBackend
{
    /// <summary><see cref="Epoll"/> where the platform has it (Linux on x64), <see cref="Portable"/> elsewhere.</summary>
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
}
