using System.Net;
using Microsoft.Extensions.Logging;

namespace MNet.Transport.Diagnostics;

/// <summary>The standalone server's log messages.</summary>
internal static partial class MNetServerLog
{
    [LoggerMessage(101, LogLevel.Information, "Listening on {EndPoint}.")]
    public static partial void Listening(ILogger logger, string endPoint);

    [LoggerMessage(102, LogLevel.Error, "The handler of connection {ConnectionId} threw; the connection is closed.")]
    public static partial void ConnectionHandlerFailed(ILogger logger, string connectionId, Exception exception);

    [LoggerMessage(109, LogLevel.Debug, "The handler of connection {ConnectionId} ended with the connection: {Reason}")]
    public static partial void ConnectionEndedByTransport(ILogger logger, string connectionId, string reason);

    [LoggerMessage(103, LogLevel.Warning, "{Count} connection(s) were still open when the shutdown timeout expired and are being aborted.")]
    public static partial void AbortingConnections(ILogger logger, int count);

    [LoggerMessage(104, LogLevel.Warning, "{Count} connection handler(s) did not finish after being aborted.")]
    public static partial void ConnectionsStillRunning(ILogger logger, int count);

    [LoggerMessage(105, LogLevel.Error, "The datagram handler on {EndPoint} threw for a datagram from {RemoteEndPoint}; the listener goes on.")]
    public static partial void DatagramHandlerFailed(ILogger logger, IPEndPoint endPoint, IPEndPoint remoteEndPoint, Exception exception);

    [LoggerMessage(106, LogLevel.Warning, "Receiving on {EndPoint} failed; the listener goes on.")]
    public static partial void DatagramReceiveFailed(ILogger logger, IPEndPoint endPoint, Exception exception);

    [LoggerMessage(107, LogLevel.Warning, "Sending replies from {EndPoint} failed.")]
    public static partial void DatagramReplyFailed(ILogger logger, IPEndPoint endPoint, Exception exception);

    [LoggerMessage(108, LogLevel.Warning, "The datagram handler on {EndPoint} was still running when the shutdown timeout expired; it is left behind.")]
    public static partial void DatagramHandlerStillRunning(ILogger logger, IPEndPoint endPoint);
}
