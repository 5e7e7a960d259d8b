using System.Net;
using System.Security.Cryptography.X509Certificates;
using MNet.Transport.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>A real Kestrel server on the chosen transport, bound to loopback port 0 unless told otherwise.</summary>
public sealed class TestWebHost : IAsyncDisposable
{
    private TestWebHost(WebApplication app, TransportKind kind)
    {
        App = app;
        Kind = kind;
        Addresses = [.. app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.GetRequiredFeature<IServerAddressesFeature>().Addresses];
    }

    public WebApplication App { get; }

    public TransportKind Kind { get; }

    public IReadOnlyList<string> Addresses { get; }

    public Uri BaseAddress => new(Addresses[0]);

    public IPEndPoint EndPoint => new(IPAddress.Parse(BaseAddress.Host.Trim('[', ']')), BaseAddress.Port);

    public static async Task<TestWebHost> StartAsync(
        TransportKind kind,
        Action<WebApplication> map,
        Action<KestrelServerOptions>? kestrel = null,
        Action<MNetTransportOptions>? mnet = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(options =>
        {
            options.Limits.MaxRequestBodySize = 64 * 1024 * 1024;
            if (kestrel is null)
            {
                options.Listen(IPAddress.Loopback, 0);
            }
            else
            {
                kestrel(options);
            }
        });
        if (kind.IsMNet())
        {
            builder.WebHost.UseMNetTransport(options =>
            {
                options.Backend = kind.Backend();
                mnet?.Invoke(options);
            });
        }

        WebApplication app = builder.Build();
        map(app);
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        return new TestWebHost(app, kind);
    }

    /// <param name="version">The HTTP version every request must use, or null for the default.</param>
    /// <param name="trustedCertificate">A self-signed server certificate trusted by pinning, for an HTTPS host.</param>
    public HttpClient CreateClient(Version? version = null, X509Certificate2? trustedCertificate = null)
    {
        SocketsHttpHandler handler = new() { MaxConnectionsPerServer = 1024 };
        if (trustedCertificate is not null)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                certificate is not null && certificate.GetCertHashString() == trustedCertificate.Thumbprint;
        }
        HttpClient client = new(handler)
        {
            BaseAddress = BaseAddress,
            Timeout = TimeSpan.FromSeconds(60),
        };
        if (version is not null)
        {
            client.DefaultRequestVersion = version;
            client.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        }
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
