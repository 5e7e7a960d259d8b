using System.Net;
using System.Text.RegularExpressions;
using MNet.Transport.Tests.Infrastructure;

namespace MNet.Transport.Tests.Samples;

/// <summary>The WebServer sample run as a real process on the MNet transport.</summary>
public sealed class WebServerSampleTests
{
    private static readonly TimeSpan ExitLimit = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData("1.1", "epoll")]
    [InlineData("2.0", "epoll")]
    [InlineData("1.1", "portable")]
    [InlineData("2.0", "portable")]
    [InlineData("1.1", "iouring")]
    public async Task Https_ServesPlaintextAndTheReadme_WithItsSelfSignedCertificate(string httpVersion, string backend)
    {
        await using SampleProcess server = SampleProcess.StartWebServer("--https", "127.0.0.1:0", "--backend", backend);
        string thumbprint = (await server.WaitForLineAsync(new Regex(@"thumbprint ([0-9A-F]{40})"))).Groups[1].Value;
        string address = (await server.WaitForLineAsync(new Regex($@"on the mnet transport \({backend} backend\), listening on (https://[^\s,]+)"))).Groups[1].Value;
        using SocketsHttpHandler handler = new();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.GetCertHashString() == thumbprint;
        using HttpClient client = new(handler)
        {
            BaseAddress = new Uri(address),
            DefaultRequestVersion = Version.Parse(httpVersion),
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        using HttpResponseMessage plaintext = await client.GetAsync("/plaintext");
        byte[] readme = await client.GetByteArrayAsync("/");

        Assert.Equal(HttpStatusCode.OK, plaintext.StatusCode);
        Assert.Equal(Version.Parse(httpVersion), plaintext.Version);
        Assert.Equal("Hello, World!", await plaintext.Content.ReadAsStringAsync());
        Assert.StartsWith("# MNet.Transport", System.Text.Encoding.UTF8.GetString(readme), StringComparison.Ordinal);
        Assert.Equal(0, await server.TerminateAsync(ExitLimit));
    }

    // bench/ serves a page of fixed size (11 KB, as m_net's chann_web serves its README) instead of this repository's.
    [Fact]
    public async Task Page_IsServedAtTheRoot_InsteadOfTheReadme()
    {
        string file = Path.GetTempFileName();
        try
        {
            byte[] page = new byte[10702];
            new Random(5).NextBytes(page);
            await File.WriteAllBytesAsync(file, page);
            await using SampleProcess server = SampleProcess.StartWebServer("--page", file, "--urls", "http://127.0.0.1:0");
            string address = (await server.WaitForLineAsync(new Regex(@"listening on (http://[^\s,]+)"))).Groups[1].Value;
            using HttpClient client = new() { BaseAddress = new Uri(address) };

            Assert.Equal(page, await client.GetByteArrayAsync("/"));
            Assert.Equal(0, await server.TerminateAsync(ExitLimit));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("--loops", "abc", "--loops must be a number from 1 to 256, not 'abc'")]
    [InlineData("--loops", "99999999999", "--loops must be a number from 1 to 256")]
    [InlineData("--https", "localhost", "The --https endpoint 'localhost' is not an address:port")]
    [InlineData("--inline", "maybe", "'maybe'")]
    [InlineData("--backend", "kqueue", "--backend must be one of auto, epoll, portable, iouring, not 'kqueue'")]
    [InlineData("--backend", "1", "--backend must be one of auto, epoll, portable, iouring, not '1'")]
    [InlineData("--page", "", "The page to serve at \"/\" could not be read: The value cannot be an empty string")]
    [InlineData("--page", "/nonexistent/page.md", "The page to serve at \"/\" could not be read: Could not find a part of the path '/nonexistent/page.md'")]
    public async Task BadArguments_EndWithExitCode2_AndTheirReason(string option, string value, string reason)
    {
        await using SampleProcess server = SampleProcess.StartWebServer(option, value);

        Assert.Equal(2, await server.WaitForExitAsync(ExitLimit));
        Assert.Contains(reason, server.Output, StringComparison.Ordinal);
    }
}
