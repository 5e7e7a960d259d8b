using System.Net;
using System.Runtime.InteropServices;
using MNet.Transport.Diagnostics;
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
    private bool _warnedPlatform;

    /// <summary>Creates the factory; event loops start with the first bind.</summary>
    public MNetTransportFactory(IOptions<MNetTransportOptions> options, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _runtime = new TransportRuntime(options.Value, loggerFactory.CreateLogger("MNet.Transport"));
    }

    /// <summary>
    /// Whether the platform has an event loop backend: Linux epoll on x64, the only architecture whose packed
    /// <c>epoll_event</c> layout the native bindings use.
    /// </summary>
    public static bool IsSupported => OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64;

    /// <inheritdoc />
    public bool CanBind(EndPoint endpoint)
    {
        if (!IsSupported)
        {
            if (!_warnedPlatform)
            {
                _warnedPlatform = true;
                MNetTransportLog.PlatformNotSupported(_runtime.Logger);
            }
            return false;
        }

        return MNetConnectionListener.CanBind(endpoint);
    }

    /// <inheritdoc />
    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ThrowIfNotSupported();
        return new ValueTask<IConnectionListener>(MNetConnectionListener.Bind(endpoint, _runtime));
    }

    /// <summary>Stops the event loops; connections still open are aborted.</summary>
    public ValueTask DisposeAsync() => _runtime.DisposeAsync();

    internal static void ThrowIfNotSupported()
    {
        if (!IsSupported)
        {
            throw new PlatformNotSupportedException("The MNet transport needs Linux (epoll); use Kestrel's Sockets transport on this platform.");
        }
    }
}
