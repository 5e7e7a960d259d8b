using MNet.Transport.Hosting;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.AspNetCore.Hosting;

/// <summary>Switches Kestrel to the MNet event-loop transport.</summary>
public static class WebHostBuilderMNetExtensions
{
    /// <summary>
    /// Serves Kestrel's TCP and Unix socket endpoints on MNet event loops. Endpoints the transport cannot serve
    /// (or any endpoint on a platform without a backend) fall back to Kestrel's Sockets transport.
    /// </summary>
    public static IWebHostBuilder UseMNetTransport(this IWebHostBuilder hostBuilder)
        => hostBuilder.UseMNetTransport(static _ => { });

    /// <summary>
    /// Serves Kestrel's TCP and Unix socket endpoints on MNet event loops, configured by <paramref name="configureOptions"/>.
    /// </summary>
    public static IWebHostBuilder UseMNetTransport(this IWebHostBuilder hostBuilder, Action<MNetTransportOptions> configureOptions)
    {
        ArgumentNullException.ThrowIfNull(hostBuilder);
        ArgumentNullException.ThrowIfNull(configureOptions);
        return hostBuilder.ConfigureServices(services =>
        {
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IConnectionListenerFactory, MNetTransportFactory>());
            services.Configure(configureOptions);
        });
    }
}
