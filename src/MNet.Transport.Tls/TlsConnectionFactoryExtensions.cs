using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using Microsoft.AspNetCore.Connections;

namespace MNet.Transport.Tls;

/// <summary>TLS client connections over any <see cref="IConnectionFactory"/> (such as MNet's).</summary>
public static class TlsConnectionFactoryExtensions
{
    /// <summary>
    /// Connects to <paramref name="endpoint"/> and runs the client side of a TLS handshake with
    /// <paramref name="options"/> (target host, ALPN, certificate validation, client certificates). The connection's
    /// pipes carry plaintext; disposing it sends close_notify before closing.
    /// </summary>
    /// <exception cref="AuthenticationException">The handshake failed: the message says why (an untrusted or expired certificate, no common protocol).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired before the handshake finished.</exception>
    public static async ValueTask<ConnectionContext> ConnectTlsAsync(
        this IConnectionFactory factory, EndPoint endpoint, SslClientAuthenticationOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(factory);
        ArgumentNullException.ThrowIfNull(options);
        ConnectionContext connection = await factory.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
        TlsDuplexPipe tls = new(connection.Transport);
        try
        {
            await tls.Stream.AuthenticateAsClientAsync(options, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            await CloseAsync(tls, connection).ConfigureAwait(false);
            throw new AuthenticationException($"The TLS handshake with {endpoint} failed: {ex.Message}", ex);
        }
        catch
        {
            await CloseAsync(tls, connection).ConfigureAwait(false);
            throw;
        }
        tls.StartReading();
        return new TlsClientConnection(connection, tls);
    }

    private static async ValueTask CloseAsync(TlsDuplexPipe tls, ConnectionContext connection)
    {
        await tls.DisposeAsync().ConfigureAwait(false);
        await connection.DisposeAsync().ConfigureAwait(false);
    }
}
