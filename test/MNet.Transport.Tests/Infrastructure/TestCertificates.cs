using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>Self-signed certificates made at test time (ECDSA P-256), never read from a checked-in key.</summary>
public static class TestCertificates
{
    /// <summary>A server certificate for <paramref name="hostName"/>, valid from an hour ago for a day unless told otherwise.</summary>
    public static X509Certificate2 Server(string hostName = "localhost", DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        CertificateRequest request = new($"CN={hostName}", key, HashAlgorithmName.SHA256);
        SubjectAlternativeNameBuilder names = new();
        names.AddDnsName(hostName);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false)); // server auth
        return Create(request, notBefore, notAfter);
    }

    /// <summary>A client certificate (client authentication usage) named <paramref name="name"/>.</summary>
    public static X509Certificate2 Client(string name = "test client")
    {
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        CertificateRequest request = new($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], critical: false)); // client auth
        return Create(request, null, null);
    }

    /// <summary>Client options that trust only <paramref name="expected"/>, by its thumbprint (a test's self-signed certificate has no root store).</summary>
    public static SslClientAuthenticationOptions PinnedClientOptions(X509Certificate2 expected, string targetHost = "localhost") => new()
    {
        TargetHost = targetHost,
        RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && certificate.GetCertHashString() == expected.Thumbprint,
    };

    private static X509Certificate2 Create(CertificateRequest request, DateTimeOffset? notBefore, DateTimeOffset? notAfter)
    {
        using X509Certificate2 ephemeral = request.CreateSelfSigned(
            notBefore ?? DateTimeOffset.UtcNow.AddHours(-1), notAfter ?? DateTimeOffset.UtcNow.AddDays(1));
        // Through PKCS#12 so the private key is one the TLS library can load, as a certificate from a file would be.
        return X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), password: null);
    }
}
