// The TLS servers and load bench/tls.sh runs: a certificate for the run, the echo servers, and the SslStream client.
using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using Samples;
using TlsBench;

return args switch
{
    ["makecert", var path] => MakeCertificate(path),
    ["serve", var kind, var port, var certificate] when BenchServer.Kinds.Contains(kind) => await BenchServer.RunAsync(kind, Number(port), certificate),
    ["handshakes", var port, var certificate, var concurrency, var seconds]
        => await BenchClient.HandshakesAsync(Number(port), Thumbprint(certificate), Number(concurrency), TimeSpan.FromSeconds(Number(seconds))),
    ["throughput", var port, var certificate, var bytes]
        => await BenchClient.ThroughputAsync(Number(port), Thumbprint(certificate), long.Parse(bytes, CultureInfo.InvariantCulture)),
    _ => Usage(),
};

static int Number(string text) => int.Parse(text, CultureInfo.InvariantCulture);

static string Thumbprint(string certificatePath)
{
    using X509Certificate2 certificate = X509CertificateLoader.LoadPkcs12FromFile(certificatePath, password: null);
    return certificate.Thumbprint;
}

static int Usage()
{
    Console.Error.WriteLine($"usage: TlsBench makecert FILE | serve {string.Join('|', BenchServer.Kinds)} PORT CERT | handshakes PORT CERT CONCURRENCY SECONDS | throughput PORT CERT BYTES");
    return 2;
}

// One self-signed certificate (ECDSA P-256, localhost), shared by every server in the run.
static int MakeCertificate(string path)
{
    using X509Certificate2 certificate = SampleCertificate.Load(path: null, password: null);
    File.WriteAllBytes(path, certificate.Export(X509ContentType.Pkcs12));
    return 0;
}
