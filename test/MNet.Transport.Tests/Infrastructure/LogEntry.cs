using Microsoft.Extensions.Logging;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>One entry a <see cref="RecordingLogger"/> kept.</summary>
public sealed record LogEntry(LogLevel Level, EventId EventId, string Message, Exception? Exception);
