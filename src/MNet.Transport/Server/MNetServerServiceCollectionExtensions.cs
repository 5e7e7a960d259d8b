using MNet.Transport.Server;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the standalone MNet server.</summary>
public static class MNetServerServiceCollectionExtensions
{
    /// <summary>
    /// Adds an <see cref="MNetServer"/> hosted service serving the endpoints <paramref name="configure"/> declares,
    /// each with its own connection pipeline:
    /// <code>services.AddMNetServer(o => o.ListenTcp(new IPEndPoint(IPAddress.Loopback, 7000), c => c.UseConnectionHandler&lt;EchoHandler&gt;()));</code>
    /// Transport settings come from <c>MNetTransportOptions</c> (<c>services.Configure&lt;MNetTransportOptions&gt;(...)</c>).
    /// </summary>
    public static IServiceCollection AddMNetServer(this IServiceCollection services, Action<MNetServerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.Configure(configure);
        services.TryAddSingleton<MNetServer>();
        services.AddHostedService(provider => provider.GetRequiredService<MNetServer>());
        return services;
    }
}
