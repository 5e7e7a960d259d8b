using System.Diagnostics.CodeAnalysis;
using System.IO.Pipelines;
using System.Net.Security;
using System.Runtime.CompilerServices;
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
    private readonly List<SslApplicationProtocol>? _applicationProtocols;
    private readonly SemaphoreSlim _handshakeSlots;
    private readonly SslStreamCertificateContext? _certificateContext;
    // A selector's certificates, each with its chain built once rather than for every handshake.
    private readonly ConditionalWeakTable<X509Certificate2, SslStreamCertificateContext> _selectedContexts = [];
    private readonly ILogger _logger;

    /// <param name="next">The rest of the pipeline, run on the plaintext pipes.</param>
    /// <param name="options">A validated copy that nobody else changes.</param>
    /// <param name="logger">Where failed handshakes are reported, once each.</param>
    public TlsServerMiddleware(ConnectionDelegate next, TlsServerOptions options, ILogger logger)
    {
        _next = next;
        _options = options;
        _applicationProtocols = options.ApplicationProtocols.Count > 0 ? options.ApplicationProtocols : null;
        _handshakeSlots = new SemaphoreSlim(options.MaxConcurrentHandshakes);
        _logger = logger;
        if (options.ServerCertificateSelector is null)
        {
            _certificateContext = SslStreamCertificateContext.Create(options.ServerCertificate!, additionalCertificates: null, offline: true);
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
            connection.Features.Set<ITlsHandshakeFeature>(null);
            connection.Features.Set<ITlsApplicationProtocolFeature>(null);
            connection.Features.Set<ITlsConnectionFeature>(null);
        }
    }

    private async Task<bool> TryAuthenticateAsync(ConnectionContext connection, TlsDuplexPipe tls)
    {
        // Not linked to ConnectionClosed: that fires on the peer's FIN, which may follow its last handshake flight and
        // first data at once. A peer that is really gone fails the handshake's next read by itself.
        using CancellationTokenSource timeout = new(_options.HandshakeTimeout);
        bool holdsSlot = false;
        try
        {
            await _handshakeSlots.WaitAsync(timeout.Token).ConfigureAwait(false);
            holdsSlot = true;
            await tls.Stream.AuthenticateAsServerAsync(
                static (_, clientHello, state, _) =>
                {
                    (TlsServerMiddleware middleware, ConnectionContext connection) = ((TlsServerMiddleware, ConnectionContext))state!;
                    return ValueTask.FromResult(middleware.CreateAuthenticationOptions(connection, clientHello.ServerName));
                },
                (this, connection),
                timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            TlsLog.HandshakeTimedOut(_logger, connection.ConnectionId, _options.HandshakeTimeout, holdsSlot ? "handshake" : "free handshake slot");
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Not TLS, a failed negotiation, a peer gone mid-handshake, or a selector or validator that threw.
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

    private SslServerAuthenticationOptions CreateAuthenticationOptions(ConnectionContext connection, string? hostName) => new()
    {
        ServerCertificateContext = _certificateContext ?? SelectCertificate(connection, hostName),
        ApplicationProtocols = _applicationProtocols,
        EnabledSslProtocols = _options.EnabledSslProtocols,
        ClientCertificateRequired = _options.ClientCertificateMode != ClientCertificateMode.NoCertificate,
        CertificateRevocationCheckMode = _options.CheckCertificateRevocation ? X509RevocationMode.Online : X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = ValidateClientCertificate,
    };

    private SslStreamCertificateContext SelectCertificate(ConnectionContext connection, string? hostName)
    {
        X509Certificate2 certificate = _options.ServerCertificateSelector!(connection, hostName)
            ?? throw new InvalidOperationException($"The certificate selector has no certificate for the host name '{hostName}'.");
        return _selectedContexts.GetValue(certificate, static c => SslStreamCertificateContext.Create(c, additionalCertificates: null, offline: true));
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
        X509Certificate2 certificate2 = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return _options.ClientCertificateValidation is { } validate ? validate(certificate2, chain, errors) : errors == SslPolicyErrors.None;
    }
}
