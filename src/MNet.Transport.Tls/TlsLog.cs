using Microsoft.Extensions.Logging;

namespace MNet.Transport.Tls;

internal static partial class TlsLog
{
    [LoggerMessage(1, LogLevel.Debug, "Connection {ConnectionId}: the TLS handshake failed: {Reason}", EventName = "TlsHandshakeFailed")]
    public static partial void HandshakeFailed(ILogger logger, string connectionId, string reason, Exception? exception);

    [LoggerMessage(2, LogLevel.Debug, "Connection {ConnectionId}: no TLS {Phase} within {Timeout}", EventName = "TlsHandshakeTimedOut")]
    public static partial void HandshakeTimedOut(ILogger logger, string connectionId, TimeSpan timeout, string phase);
}
