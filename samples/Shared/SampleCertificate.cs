using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Samples;

/// <summary>A sample server's TLS certificate: a PKCS#12 file given with --cert, or a self-signed one made at start. Linked into each sample that serves TLS.</summary>
internal static class SampleCertificate
{
    public static X509Certificate2 Load(string? path, string? password)
    {
        if (path is null)
        {
            return CreateSelfSigned();
        }
        if (!File.Exists(path))
        {
            throw new ArgumentException($"The certificate file '{path}' does not exist.");
        }
        try
        {
            X509Certificate2 certificate = X509CertificateLoader.LoadPkcs12FromFile(path, password);
            return certificate.HasPrivateKey ? certificate : throw new ArgumentException($"The certificate in '{path}' has no private key.");
        }
        catch (CryptographicException ex)
        {
            throw new ArgumentException($"'{path}' is not a PKCS#12 (.pfx) file this password opens: {ex.Message}");
        }
    }

    /// <summary>For localhost and 127.0.0.1, valid for 30 days; its key lives only in this process.</summary>
    private static X509Certificate2 CreateSelfSigned()
    {
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        CertificateRequest request = new("CN=localhost", key, HashAlgorithmName.SHA256);
        SubjectAlternativeNameBuilder names = new();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        using X509Certificate2 ephemeral = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(30));
        return X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), password: null);
    }
}
