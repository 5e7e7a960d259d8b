using System.Diagnostics;
using Microsoft.AspNetCore.Connections;

namespace EchoServer;

/// <summary>
/// An example connection middleware (m_net's "extension skeleton"): logs each connection's peer, lifetime and the
/// bytes it moved, by wrapping the transport's pipes in counting ones.
/// </summary>
internal static class ConnectionLoggingExtensions
{
    public static IConnectionBuilder UseConnectionLogging(this IConnectionBuilder builder, ILogger logger)
        => builder.Use(next => async connection =>
        {
            long started = Stopwatch.GetTimestamp();
            CountingDuplexPipe counted = new(connection.Transport);
            connection.Transport = counted;
            EchoServerLog.Connected(logger, connection.ConnectionId, connection.RemoteEndPoint);
            try
            {
                await next(connection);
            }
            finally
            {
                EchoServerLog.Closed(
                    logger,
                    connection.ConnectionId,
                    (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                    counted.BytesRead,
                    counted.BytesWritten);
            }
        });
}
