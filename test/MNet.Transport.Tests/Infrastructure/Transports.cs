using MNet.Transport.Hosting;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MNet.Transport.Tests.Infrastructure;

public static class Transports
{
    /// <summary>xunit member data: one row per transport (each MNet backend, and Kestrel's Sockets).</summary>
    public static TheoryData<TransportKind> All => new() { TransportKind.Epoll, TransportKind.Portable, TransportKind.IoUring, TransportKind.Sockets };

    /// <summary>xunit member data: one row per MNet backend this machine runs.</summary>
    public static TheoryData<MNetBackend> Backends => new() { MNetBackend.Epoll, MNetBackend.Portable, MNetBackend.IoUring };

    /// <summary>xunit member data: the MNet rows of <see cref="All"/>.</summary>
    public static TheoryData<TransportKind> MNet => new() { TransportKind.Epoll, TransportKind.Portable, TransportKind.IoUring };

    public static bool IsMNet(this TransportKind kind) => kind != TransportKind.Sockets;

    /// <summary>The MNet backend <paramref name="kind"/> runs on.</summary>
    public static MNetBackend Backend(this TransportKind kind) => kind switch
    {
        TransportKind.Epoll => MNetBackend.Epoll,
        TransportKind.Portable => MNetBackend.Portable,
        TransportKind.IoUring => MNetBackend.IoUring,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Kestrel's Sockets transport has no MNet backend."),
    };

    /// <summary>The name of the connection type that serves <paramref name="kind"/>'s connections.</summary>
    public static string ConnectionTypeName(this TransportKind kind) => kind switch
    {
        TransportKind.Epoll => "EpollConnection",
        TransportKind.Portable => "PortableConnection",
        TransportKind.IoUring => "IoUringConnection",
        _ => "SocketConnection",
    };

    /// <summary>A client connection factory on <paramref name="backend"/>.</summary>
    public static MNetConnectionFactory CreateClient(MNetBackend backend, Action<MNetTransportOptions>? configure = null)
    {
        MNetTransportOptions options = new() { Backend = backend };
        configure?.Invoke(options);
        return new MNetConnectionFactory(Options.Create(options), NullLoggerFactory.Instance);
    }

    /// <summary>A bare listener factory for the transport, as Kestrel would get it.</summary>
    public static IConnectionListenerFactory CreateFactory(TransportKind kind, Action<MNetTransportOptions>? configure = null)
    {
        if (kind == TransportKind.Sockets)
        {
            return new SocketTransportFactory(Options.Create(new SocketTransportOptions()), NullLoggerFactory.Instance);
        }

        MNetTransportOptions options = new() { Backend = kind.Backend() };
        configure?.Invoke(options);
        return new MNetTransportFactory(Options.Create(options), NullLoggerFactory.Instance);
    }
}
