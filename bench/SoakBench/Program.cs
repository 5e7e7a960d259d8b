// The process bench/soak.sh keeps under mixed load: every kind of listener MNet.Transport has, in one process.
//   SoakBench HTTP_PORT TCP_PORT UDP_PORT TLS_PORT CERTIFICATE.pfx
// HTTP on Kestrel over the MNet transport (/plaintext and a 11 KB page at /), and on the standalone server a TCP
// echo, a UDP echo and a TLS echo. Prints "ready" once listening, then "gc heap_bytes=N" every 10 s; SIGTERM stops it.
using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;
using MNet.Transport.Server;
using MNet.Transport.Tls;

if (args.Length != 5 || !args[..4].All(a => ushort.TryParse(a, CultureInfo.InvariantCulture, out _)))
{
    Console.Error.WriteLine("usage: SoakBench HTTP_PORT TCP_PORT UDP_PORT TLS_PORT CERTIFICATE.pfx");
    return 2;
}
IPEndPoint Loopback(string port) => new(IPAddress.Loopback, int.Parse(port, CultureInfo.InvariantCulture));
X509Certificate2 certificate = X509CertificateLoader.LoadPkcs12FromFile(args[4], password: null);

WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.WebHost.UseMNetTransport();
builder.WebHost.UseUrls($"http://127.0.0.1:{args[0]}");
builder.Services.AddMNetServer(o => o
    .ListenTcp(Loopback(args[1]), c => c.Run(Echo))
    .ListenUdp(Loopback(args[2]), datagram => datagram.ReplyAsync(datagram.Data))
    .ListenTcp(Loopback(args[3]), c => c.UseTls(certificate).Run(Echo)));

byte[] hello = "Hello, World!"u8.ToArray();
byte[] page = new byte[11 * 1024];
Array.Fill(page, (byte)'m');
WebApplication app = builder.Build();
app.MapGet("/plaintext", () => Results.Bytes(hello, "text/plain"));
app.MapGet("/", () => Results.Bytes(page, "text/plain"));

await app.StartAsync();
Console.WriteLine("ready");
using PeriodicTimer every10Seconds = new(TimeSpan.FromSeconds(10));
try
{
    while (await every10Seconds.WaitForNextTickAsync(app.Lifetime.ApplicationStopping))
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"gc heap_bytes={GC.GetGCMemoryInfo().HeapSizeBytes}"));
    }
}
catch (OperationCanceledException)
{
    // SIGTERM
}
await app.WaitForShutdownAsync();
return 0;

static Task Echo(ConnectionContext connection) => connection.Transport.Input.CopyToAsync(connection.Transport.Output);
