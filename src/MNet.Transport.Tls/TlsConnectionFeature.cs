using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace MNet.Transport.Tls;

/// <summary>What a finished handshake agreed on, as the connection features ASP.NET Core code reads.</summary>
internal sealed class TlsConnectionFeature(SslStream stream) : ITlsHandshakeFeature, ITlsApplicationProtocolFeature, ITlsConnectionFeature
{
    public SslProtocols Protocol => stream.SslProtocol;

    public TlsCipherSuite? NegotiatedCipherSuite => stream.NegotiatedCipherSuite;

    public string HostName => stream.TargetHostName;

#pragma warning disable SYSLIB0058 // the interface still carries the algorithm properties; they answer as SslStream does
    public CipherAlgorithmType CipherAlgorithm => stream.CipherAlgorithm;

    public int CipherStrength => stream.CipherStrength;

    public HashAlgorithmType HashAlgorithm => stream.HashAlgorithm;

    public int HashStrength => stream.HashStrength;

    public ExchangeAlgorithmType KeyExchangeAlgorithm => stream.KeyExchangeAlgorithm;

    public int KeyExchangeStrength => stream.KeyExchangeStrength;
#pragma warning restore SYSLIB0058

    public ReadOnlyMemory<byte> ApplicationProtocol => stream.NegotiatedApplicationProtocol.Protocol;

    private X509Certificate2? _clientCertificate = stream.RemoteCertificate as X509Certificate2;

    /// <summary>The certificate the handshake received (a middleware may replace it, as with Kestrel).</summary>
    public X509Certificate2? ClientCertificate
    {
        get => _clientCertificate;
        set => _clientCertificate = value;
    }

    public Task<X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) => Task.FromResult(_clientCertificate);
}
