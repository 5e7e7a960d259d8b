using System.Net;
using MNet.Transport.Tcp;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MNet.Transport.Hosting;

/// <summary>
/// Binds TCP and Unix domain socket endpoints on MNet event loops. Registered by
/// <c>UseMNetTransport()</c>; Kestrel asks <see cref="CanBind"/> first and falls back to its Sockets transport
/// for endpoints this factory does not serve.
/// </summary>
public sealed class MNetTransportFactory : IConnectionListenerFactory, IConnectionListenerFactorySelector, IAsyncDisposable
{
    private readonly TransportRuntime _runtime;

    /// <summary>Creates the factory; event loops start with the first bind.</summary>
    /// <exception cref="PlatformNotSupportedException"><see cref="MNetTransportOptions.Backend"/> asks for a backend this platform lacks.</exception>
    public MNetTransportFactory(IOptions<MNetTransportOptions> options, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _runtime = new TransportRuntime(options.Value, loggerFactory.CreateLogger("MNet.Transport"));
    }

    /// <inheritdoc />
    public bool CanBind(EndPoint endpoint) => ListenEndPoints.CanBind(endpoint);

    /// <inheritdoc />
    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return new ValueTask<IConnectionListener>(_runtime.Bind(endpoint));
    }

    /// <summary>Stops the event loops; connections still open are aborted.</summary>
    public ValueTask DisposeAsync() => _runtime.DisposeAsync();
}
