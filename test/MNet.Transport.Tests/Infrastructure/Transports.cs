using MNet.Transport.Hosting;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MNet.Transport.Tests.Infrastructure;

public static class Transports
{
    /// <summary>xunit member data: one row per transport.</summary>
    public static TheoryData<TransportKind> All => new() { TransportKind.MNet, TransportKind.Sockets };

    /// <summary>A bare listener factory for the transport, as Kestrel would get it.</summary>
    public static IConnectionListenerFactory CreateFactory(TransportKind kind, Action<MNetTransportOptions>? configure = null)
    {
        if (kind == TransportKind.Sockets)
        {
            return new SocketTransportFactory(Options.Create(new SocketTransportOptions()), NullLoggerFactory.Instance);
        }

        MNetTransportOptions options = new();
        configure?.Invoke(options);
        return new MNetTransportFactory(Options.Create(options), NullLoggerFactory.Instance);
    }
}
