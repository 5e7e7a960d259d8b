using System.Net;
using System.Net.Sockets;
using MNet.Transport.Tcp;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MNet.Transport.Hosting;

/// <summary>
/// Opens client connections on MNet event loops: TCP to an <see cref="IPEndPoint"/> or a <see cref="DnsEndPoint"/>
/// (every resolved address tried in the manner of RFC 8305, "happy eyeballs"), or a Unix domain socket. The
/// connection's pipes are served by a loop exactly as accepted connections are.
/// </summary>
public sealed class MNetConnectionFactory : IConnectionFactory, IAsyncDisposable
{
    private readonly TransportRuntime _runtime;

    /// <summary>Creates a factory with default <see cref="MNetTransportOptions"/>.</summary>
    public MNetConnectionFactory()
        : this(Options.Create(new MNetTransportOptions()), NullLoggerFactory.Instance)
    {
    }

    /// <summary>Creates a factory; its event loops start with the first connect.</summary>
    public MNetConnectionFactory(IOptions<MNetTransportOptions> options, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _runtime = new TransportRuntime(options.Value, loggerFactory.CreateLogger("MNet.Transport"));
    }

    /// <summary>
    /// Connects to <paramref name="endpoint"/>. Cancel <paramref name="cancellationToken"/> to time the connect out.
    /// </summary>
    /// <exception cref="SocketException">The connection was refused or the host is unreachable or unknown; the message names the endpoint.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled first.</exception>
    public ValueTask<ConnectionContext> ConnectAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
        => TcpConnector.ConnectAsync(endpoint, _runtime, cancellationToken);

    /// <summary>Stops the event loops; connections still open are aborted.</summary>
    public ValueTask DisposeAsync() => _runtime.DisposeAsync();
}
