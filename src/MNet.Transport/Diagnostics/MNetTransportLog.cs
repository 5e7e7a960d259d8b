using System.Net;
using Microsoft.Extensions.Logging;

namespace MNet.Transport.Diagnostics;

/// <summary>The transport's log messages.</summary>
internal static partial class MNetTransportLog
{
    [LoggerMessage(1, LogLevel.Critical, "Event loop {LoopId} stopped unexpectedly.")]
    public static partial void LoopFailed(ILogger logger, int loopId, Exception exception);

    [LoggerMessage(2, LogLevel.Error, "A callback on event loop {LoopId} threw; the loop goes on.")]
    public static partial void LoopCallbackFailed(ILogger logger, int loopId, Exception exception);

    [LoggerMessage(3, LogLevel.Debug, "Connection {ConnectionId} failed.")]
    public static partial void ConnectionError(ILogger logger, string connectionId, Exception exception);

    [LoggerMessage(4, LogLevel.Warning, "Accepting on {EndPoint} paused for {DelayMilliseconds} ms: {Reason}")]
    public static partial void AcceptPaused(ILogger logger, string endPoint, int delayMilliseconds, string reason);

    [LoggerMessage(5, LogLevel.Error, "Accepting on {EndPoint} failed.")]
    public static partial void AcceptFailed(ILogger logger, string endPoint, Exception exception);

    [LoggerMessage(7, LogLevel.Debug, "Listening on {EndPoint} with {LoopCount} event loop(s).")]
    public static partial void Listening(ILogger logger, string endPoint, int loopCount);

    [LoggerMessage(8, LogLevel.Error, "A ConnectionClosed callback of connection {ConnectionId} threw.")]
    public static partial void ConnectionClosedCallbackFailed(ILogger logger, string connectionId, Exception exception);

    [LoggerMessage(9, LogLevel.Error, "A timer callback threw; the loop and its other timers go on.")]
    public static partial void TimerCallbackFailed(ILogger logger, Exception exception);

    [LoggerMessage(10, LogLevel.Information, "The io_uring backend is unavailable, so the transport runs on epoll: {Reason}")]
    public static partial void IoUringUnavailable(ILogger logger, string reason);
}
