using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MNet.Transport.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace MNet.Transport.Tests.Tls;

/// <summary>Kestrel's own UseHttps over the MNet transport, as over Kestrel's Sockets transport: HTTP/1.1 and HTTP/2 through real HttpClient.</summary>
public sealed class KestrelHttpsTests
{
    private static readonly X509Certificate2 Certificate = TestCertificates.Server("localhost");

    public static TheoryData<TransportKind, string> Cases => new()
    {
        { TransportKind.Epoll, "1.1" },
        { TransportKind.Epoll, "2.0" },
        { TransportKind.Portable, "1.1" },
        { TransportKind.Portable, "2.0" },
        { TransportKind.IoUring, "1.1" },
        { TransportKind.IoUring, "2.0" },
        { TransportKind.Sockets, "1.1" },
        { TransportKind.Sockets, "2.0" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Https_ServesGetAndA1MiBUpload_OnTheVersionAsked(TransportKind kind, string httpVersion)
    {
        Version version = Version.Parse(httpVersion);
        await using TestWebHost host = await TestWebHost.StartAsync(kind, TestEndpoints.Map, kestrel: o => o.Listen(IPAddress.Loopback, 0, listen =>
        {
            listen.Protocols = HttpProtocols.Http1AndHttp2;
            listen.UseHttps(Certificate);
        }));
        using HttpClient client = host.CreateClient(version, Certificate);
        byte[] payload = new byte[1024 * 1024];
        new Random(11).NextBytes(payload);

        using HttpResponseMessage hello = await client.GetAsync("/hello");
        using HttpResponseMessage upload = await client.PostAsync("/sha256", new ByteArrayContent(payload));

        Assert.Equal("https", host.BaseAddress.Scheme);
        Assert.Equal(version, hello.Version);
        Assert.Equal(TestEndpoints.Hello, await hello.Content.ReadAsStringAsync());
        Assert.Equal($"{payload.Length}:{Convert.ToHexString(SHA256.HashData(payload))}", await upload.Content.ReadAsStringAsync());
        Assert.Equal(kind.ConnectionTypeName(), await client.GetStringAsync("/transport"));
    }
}
