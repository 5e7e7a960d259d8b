using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MNet.Transport.Tls;

/// <summary>TLS for the connection pipelines of the standalone server (or any <see cref="IConnectionBuilder"/>).</summary>
public static class TlsConnectionBuilderExtensions
{
    /// <summary>Authenticates every connection with <paramref name="serverCertificate"/>; what follows sees plaintext.</summary>
    public static IConnectionBuilder UseTls(this IConnectionBuilder builder, X509Certificate2 serverCertificate)
    {
        ArgumentNullException.ThrowIfNull(serverCertificate);
        return builder.UseTls(new TlsServerOptions { ServerCertificate = serverCertificate });
    }

    /// <summary>
    /// Runs a TLS handshake on every connection as <paramref name="options"/> say, then the rest of the pipeline on
    /// the plaintext pipes, with <see cref="Microsoft.AspNetCore.Connections.Features.ITlsHandshakeFeature"/> on the
    /// connection. A connection that fails its handshake is closed; when the pipeline ends, close_notify is sent
    /// (not when the application completed its output with an error). The options are copied: later changes to them
    /// do not apply.
    /// </summary>
    /// <exception cref="InvalidOperationException">Neither a certificate nor a selector is set.</exception>
    /// <exception cref="ArgumentException">An option is out of range, or the certificate has no private key.</exception>
    public static IConnectionBuilder UseTls(this IConnectionBuilder builder, TlsServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        TlsServerOptions validated = options.ToValidatedCopy();
        ILogger logger = builder.ApplicationServices.GetService<ILoggerFactory>()?.CreateLogger("MNet.Transport.Tls") ?? NullLogger.Instance;
        return builder.Use(next => new TlsServerMiddleware(next, validated, logger).OnConnectionAsync);
    }
}
