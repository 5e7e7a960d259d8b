using System.Net;
using MNet.Transport.Hosting;
using MNet.Transport.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>A started generic host running <see cref="MNetServer"/>, with its log recorded.</summary>
public sealed class ServerHost : IAsyncDisposable
{
    private readonly IHost _host;

    private ServerHost(IHost host, RecordingLogger log)
    {
        _host = host;
        Log = log;
        Server = host.Services.GetRequiredService<MNetServer>();
    }

    public MNetServer Server { get; }

    public RecordingLogger Log { get; }

    public EndPoint EndPoint => Server.EndPoints[0];

    public static Task<ServerHost> StartAsync(
        Action<MNetServerOptions> configure,
        Action<MNetTransportOptions>? transport = null,
        TimeSpan? shutdownTimeout = null)
        => StartAsync(MNetBackend.Auto, configure, transport, shutdownTimeout);

    public static async Task<ServerHost> StartAsync(
        MNetBackend backend,
        Action<MNetServerOptions> configure,
        Action<MNetTransportOptions>? transport = null,
        TimeSpan? shutdownTimeout = null)
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        RecordingLoggerProvider log = new();
        builder.Logging.AddProvider(log);
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = shutdownTimeout ?? TimeSpan.FromSeconds(10));
        builder.Services.Configure<MNetTransportOptions>(o =>
        {
            o.Backend = backend;
            transport?.Invoke(o);
        });
        builder.Services.AddMNetServer(configure);
        IHost host = builder.Build();
        await host.StartAsync();
        return new ServerHost(host, log.Logger);
    }

    public Task StopAsync() => _host.StopAsync();

    /// <summary>Disposes the host without stopping it first, as an application that skips the host's shutdown does.</summary>
    public void DisposeWithoutStopping() => _host.Dispose();

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
