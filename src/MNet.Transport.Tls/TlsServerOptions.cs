using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace MNet.Transport.Tls;

/// <summary>How <see cref="TlsConnectionBuilderExtensions.UseTls(IConnectionBuilder, TlsServerOptions)"/> authenticates connections.</summary>
public sealed class TlsServerOptions
{
    /// <summary>The certificate (with its private key) presented to every client, unless <see cref="ServerCertificateSelector"/> picks one.</summary>
    public X509Certificate2? ServerCertificate { get; set; }

    /// <summary>
    /// Picks the certificate for a connection from the host name the client asked for (SNI; null when it sent none).
    /// Returning null fails that handshake.
    /// </summary>
    public Func<ConnectionContext, string?, X509Certificate2?>? ServerCertificateSelector { get; set; }

    /// <summary>The ALPN protocols offered, in order of preference (for example <see cref="SslApplicationProtocol.Http2"/>).</summary>
    public List<SslApplicationProtocol> ApplicationProtocols { get; } = [];

    /// <summary>
    /// Whether a client certificate is asked for, and whether a connection without one is refused.
    /// <see cref="ClientCertificateMode.DelayCertificate"/> is not supported.
    /// </summary>
    public ClientCertificateMode ClientCertificateMode { get; set; } = ClientCertificateMode.NoCertificate;

    /// <summary>
    /// Decides whether a client's certificate is accepted, given the errors found building its chain. Without it, a
    /// certificate is accepted only when it has no errors.
    /// </summary>
    public Func<X509Certificate2, X509Chain?, SslPolicyErrors, bool>? ClientCertificateValidation { get; set; }

    /// <summary>Whether the revocation of a client's certificate is checked (online).</summary>
    public bool CheckCertificateRevocation { get; set; } = true;

    /// <summary>The TLS versions allowed; <see cref="SslProtocols.None"/> lets the system choose (TLS 1.2 and 1.3 here).</summary>
    public SslProtocols EnabledSslProtocols { get; set; } = SslProtocols.None;

    /// <summary>How long a client may take to finish its handshake (waiting for a handshake slot included) before the connection is closed.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The most handshakes run at once. Connections beyond it wait for a slot within their <see cref="HandshakeTimeout"/>,
    /// so a flood of new connections costs bounded CPU.
    /// </summary>
    public int MaxConcurrentHandshakes { get; set; } = Environment.ProcessorCount * 64;

    /// <summary>A validated copy for a pipeline: changes made to these options after <c>UseTls</c> do not reach it.</summary>
    internal TlsServerOptions ToValidatedCopy()
    {
        TlsServerOptions copy = new()
        {
            ServerCertificate = ServerCertificate,
            ServerCertificateSelector = ServerCertificateSelector,
            ClientCertificateMode = ClientCertificateMode,
            ClientCertificateValidation = ClientCertificateValidation,
            CheckCertificateRevocation = CheckCertificateRevocation,
            EnabledSslProtocols = EnabledSslProtocols,
            HandshakeTimeout = HandshakeTimeout,
            MaxConcurrentHandshakes = MaxConcurrentHandshakes,
        };
        copy.ApplicationProtocols.AddRange(ApplicationProtocols);
        copy.Validate();
        return copy;
    }

    private void Validate()
    {
        if (ServerCertificate is null && ServerCertificateSelector is null)
        {
            throw new InvalidOperationException("TLS needs a ServerCertificate or a ServerCertificateSelector.");
        }
        if (ServerCertificate is { HasPrivateKey: false })
        {
            throw new ArgumentException("The server certificate has no private key.", nameof(ServerCertificate));
        }
        if (HandshakeTimeout <= TimeSpan.Zero && HandshakeTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(HandshakeTimeout), HandshakeTimeout, "Must be positive, or Timeout.InfiniteTimeSpan.");
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConcurrentHandshakes, 1, nameof(MaxConcurrentHandshakes));
        if (ClientCertificateMode == ClientCertificateMode.DelayCertificate)
        {
            throw new ArgumentException("DelayCertificate (renegotiating for a certificate later) is not supported; use AllowCertificate or RequireCertificate.", nameof(ClientCertificateMode));
        }
    }
}
