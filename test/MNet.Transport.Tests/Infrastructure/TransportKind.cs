namespace MNet.Transport.Tests.Infrastructure;

/// <summary>The transports every functional case runs against, so MNet's behaviour (on each backend) is held to Kestrel's own.</summary>
public enum TransportKind
{
    /// <summary>MNet on its epoll backend.</summary>
    Epoll,

    /// <summary>MNet on its portable backend (.NET's socket engine).</summary>
    Portable,

    /// <summary>MNet on its io_uring backend.</summary>
    IoUring,

    /// <summary>Kestrel's own Sockets transport.</summary>
    Sockets,
}
