using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;
using MNet.Transport.Tls;

namespace TlsBench;

/// <summary>
/// A TLS echo server on 127.0.0.1:PORT with the certificate in a PKCS#12 file:
///   mnet           the standalone MNet server with UseTls (MNet.Transport.Tls)
///   kestrel-mnet   Kestrel's UseHttps connection middleware on the MNet transport
///   sockets        Kestrel's UseHttps on Kestrel's own Sockets transport
/// Prints "ready" once listening; SIGTERM stops it.
/// </summary>
internal static class BenchServer
{
    public static readonly string[] Kinds = ["mnet", "kestrel-mnet", "sockets"];

    public static async Task<int> RunAsync(string kind, int port, string certificatePath)
    {
        X509Certificate2 certificate = X509CertificateLoader.LoadPkcs12FromFile(certificatePath, password: null);
        IPEndPoint endPoint = new(IPAddress.Loopback, port);
        IHost host;
        if (kind == "mnet")
        {
            HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
            builder.Services.AddMNetServer(o => o.ListenTcp(endPoint, c => c.UseTls(certificate).UseConnectionHandler<EchoConnectionHandler>()));
            host = builder.Build();
        }
        else
        {
            WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            builder.WebHost.ConfigureKestrel(k => k.Listen(endPoint, l => l.UseHttps(certificate).UseConnectionHandler<EchoConnectionHandler>()));
            if (kind == "kestrel-mnet")
            {
                builder.WebHost.UseMNetTransport();
            }
            host = builder.Build();
        }

        using (host)
        {
            await host.StartAsync();
            Console.WriteLine("ready");
            await host.WaitForShutdownAsync();
        }
        return 0;
    }
}
