using System.Diagnostics.CodeAnalysis;
using System.IO.Pipelines;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;

namespace MNet.Transport.Tls;

/// <summary>
/// Runs the server side of a TLS handshake on each connection, then the rest of the pipeline on the plaintext pipes.
/// A connection whose handshake fails, stalls past the timeout, or is not TLS at all is logged once and closed;
/// the others are untouched.
/// </summary>
[SuppressMessage("Reliability", "CA1001", Justification = "The semaphore's wait handle is never asked for, so it holds nothing to free; the middleware lives as long as its pipeline.")]
internal sealed class TlsServerMiddleware
{
    private readonly ConnectionDelegate _next;
    private readonly TlsServerOptions _options;
    private readonly SemaphoreSlim _handshakeSlots;
    private readonly SslStreamCertificateContext? _certificateContext;
    private readonly ILogger _logger;

    public TlsServerMiddleware(ConnectionDelegate next, TlsServerOptions options, ILogger logger)
    {
        _next = next;
        _options = options;
        _handshakeSlots = new SemaphoreSlim(options.MaxConcurrentHandshakes);
        _logger = logger;
        if (options.ServerCertificate is { } certificate)
        {
            // Built once: the chain is not looked up again for every handshake.
            _certificateContext = SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true);
        }
    }

    public async Task OnConnectionAsync(ConnectionContext connection)
    {
        TlsDuplexPipe tls = new(connection.Transport);
        if (!await TryAuthenticateAsync(connection, tls).ConfigureAwait(false))
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            return; // returning closes the connection
        }

        TlsConnectionFeature feature = new(tls.Stream);
        connection.Features.Set<ITlsHandshakeFeature>(feature);
        connection.Features.Set<ITlsApplicationProtocolFeature>(feature);
        connection.Features.Set<ITlsConnectionFeature>(feature);
        IDuplexPipe transport = connection.Transport;
        connection.Transport = tls;
        tls.StartReading();
        try
        {
            await _next(connection).ConfigureAwait(false);
        }
        finally
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            connection.Transport = transport;
        }
    }

    private async Task<bool> TryAuthenticateAsync(ConnectionContext connection, TlsDuplexPipe tls)
    {
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed);
        timeout.CancelAfter(_options.HandshakeTimeout);
        bool holdsSlot = false;
        try
        {
            await _handshakeSlots.WaitAsync(timeout.Token).ConfigureAwait(false);
            holdsSlot = true;
            await tls.Stream.AuthenticateAsServerAsync(CreateAuthenticationOptions(connection), timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !connection.ConnectionClosed.IsCancellationRequested)
        {
            TlsLog.HandshakeTimedOut(_logger, connection.ConnectionId, _options.HandshakeTimeout);
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException or OperationCanceledException or NotSupportedException or ConnectionResetException)
        {
            TlsLog.HandshakeFailed(_logger, connection.ConnectionId, ex.Message, ex);
        }
        finally
        {
            if (holdsSlot)
            {
                _handshakeSlots.Release();
            }
        }
        return false;
    }

    private SslServerAuthenticationOptions CreateAuthenticationOptions(ConnectionContext connection)
    {
        SslServerAuthenticationOptions options = new()
        {
            ServerCertificateContext = _certificateContext,
            ApplicationProtocols = _options.ApplicationProtocols.Count > 0 ? _options.ApplicationProtocols : null,
            EnabledSslProtocols = _options.EnabledSslProtocols,
            ClientCertificateRequired = _options.ClientCertificateMode != ClientCertificateMode.NoCertificate,
            CertificateRevocationCheckMode = _options.CheckCertificateRevocation ? X509RevocationMode.Online : X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = ValidateClientCertificate,
        };
        if (_options.ServerCertificateSelector is { } selector)
        {
            options.ServerCertificateContext = null;
            options.ServerCertificateSelectionCallback = (_, hostName) => selector(connection, hostName)
                ?? throw new AuthenticationException($"No certificate for the host name '{hostName}'.");
        }
        return options;
    }

    private bool ValidateClientCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return _options.ClientCertificateMode != ClientCertificateMode.RequireCertificate;
        }
        if (_options.ClientCertificateMode == ClientCertificateMode.NoCertificate)
        {
            return true; // not asked for; not looked at
        }
        X509Certificate2 certificate2 = certificate as X509Certificate2 ?? new X509Certificate2(certificate);
        return _options.ClientCertificateValidation is { } validate ? validate(certificate2, chain, errors) : errors == SslPolicyErrors.None;
    }
}
