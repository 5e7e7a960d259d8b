namespace MNet.Transport.Tests.Infrastructure;

/// <summary>The transports every functional case runs against, so MNet's behaviour is held to Kestrel's own.</summary>
public enum TransportKind
{
    MNet,
    Sockets,
}
