// The m_net chann_web example on ASP.NET Core: the same app on the MNet transport or on Kestrel's Sockets transport.
//   dotnet run -c Release --project samples/WebServer [-- --transport mnet|sockets] [--urls http://127.0.0.1:8080]
//       [--inline true] [--loops N]   (inline scheduling on either transport; MNet's event-loop count)
//       [--backend auto|epoll|portable|iouring]   (MNet's I/O engine: native epoll, .NET's socket engine, or io_uring)
//       [--page FILE]   (what "/" serves instead of the repository's README: bench/ gives it an 11 KB page)
//   dotnet run -c Release --project samples/WebServer -- --https 127.0.0.1:8443 [--cert server.pfx [--cert-password P]]
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using MNet.Transport.Hosting;
using Samples;
using WebServer;

WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(args);
string transport = builder.Configuration["transport"] ?? "mnet";
int? loops;
IPEndPoint? https;
bool inline;
MNetBackend backend;
try
{
    backend = ArgumentText.ParseEnum<MNetBackend>(builder.Configuration["backend"] ?? "auto", "--backend");
    // --inline true: application code runs on the transport's I/O threads (UnsafePreferInlineScheduling on either transport).
    inline = builder.Configuration.GetValue<bool>("inline");
    loops = builder.Configuration["loops"] is { } loopsText ? (int)ArgumentText.ParsePositive(loopsText, "--loops", max: 256) : null;
    // Kestrel's own HTTPS (HTTP/1.1 and HTTP/2 through ALPN) over whichever transport was chosen.
    https = builder.Configuration["https"] is { } httpsText ? ArgumentText.ParseIPEndPoint(httpsText, "--https endpoint", allowPortZero: true) : null;
}
catch (Exception ex) when (ex is ArgumentException or InvalidOperationException) // InvalidOperationException: --inline that is not a bool
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

switch (transport)
{
    case "mnet":
        builder.WebHost.UseMNetTransport(options =>
        {
            options.UnsafePreferInlineScheduling = inline;
            options.LoopCount = loops ?? options.LoopCount;
            options.Backend = backend;
        });
        break;
    case "sockets":
        builder.WebHost.UseSockets(options => options.UnsafePreferInlineScheduling = inline);
        break;
    default:
        Console.Error.WriteLine($"Unknown --transport '{transport}': use mnet or sockets.");
        return 2;
}

if (https is { } endPoint)
{
    X509Certificate2 certificate;
    try
    {
        certificate = SampleCertificate.Load(builder.Configuration["cert"], builder.Configuration["cert-password"]);
    }
    catch (ArgumentException ex)
    {
        Console.Error.WriteLine(ex.Message);
        return 2;
    }
    builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(endPoint, listen =>
    {
        listen.Protocols = HttpProtocols.Http1AndHttp2;
        listen.UseHttps(certificate);
    }));
    Console.WriteLine($"TLS certificate {certificate.Subject}, thumbprint {certificate.Thumbprint}");
}
else if (builder.Configuration["urls"] is null)
{
    builder.WebHost.UseUrls("http://127.0.0.1:8080");
}
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.ConfigureHttpJsonOptions(options => options.SerializerOptions.TypeInfoResolverChain.Insert(0, SampleJsonContext.Default));

byte[] page;
try
{
    page = await File.ReadAllBytesAsync(builder.Configuration["page"] ?? ReadmeLocator.Find());
}
catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException) // ArgumentException: an empty --page
{
    Console.Error.WriteLine($"The page to serve at \"/\" could not be read: {ex.Message}");
    return 2;
}
byte[] helloWorld = "Hello, World!"u8.ToArray();

WebApplication app = builder.Build();
// Bytes with a Content-Length, as the TechEmpower plaintext test sends them (a string would go chunked).
app.MapGet("/plaintext", () => Results.Bytes(helloWorld, "text/plain"));
app.MapGet("/json", () => new Greeting("Hello, World!"));
app.MapGet("/", () => Results.Bytes(page, "text/plain; charset=utf-8"));

await app.StartAsync();
Console.WriteLine($"WebServer on the {transport} transport{(transport == "mnet" ? $" ({backend.ToString().ToLowerInvariant()} backend)" : "")}, listening on {string.Join(", ", app.Urls)}");
await app.WaitForShutdownAsync();
return 0;

internal sealed record Greeting(string Message);

[JsonSerializable(typeof(Greeting))]
internal sealed partial class SampleJsonContext : JsonSerializerContext;
