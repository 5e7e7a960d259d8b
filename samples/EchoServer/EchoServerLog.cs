using System.Net;

namespace EchoServer;

/// <summary>The sample's log messages.</summary>
internal static partial class EchoServerLog
{
    [LoggerMessage(1, LogLevel.Information, "{ConnectionId} connected from {Remote}")]
    public static partial void Connected(ILogger logger, string connectionId, EndPoint? remote);

    [LoggerMessage(2, LogLevel.Information, "{ConnectionId} closed after {ElapsedMilliseconds} ms: {Received} bytes in, {Sent} bytes out")]
    public static partial void Closed(ILogger logger, string connectionId, long elapsedMilliseconds, long received, long sent);
}
