using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>An <see cref="ILogger"/> that keeps every entry, for asserting what was logged.</summary>
public sealed class RecordingLogger : ILogger
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public IReadOnlyCollection<LogEntry> Entries => _entries;

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        => _entries.Enqueue(new LogEntry(logLevel, eventId, formatter(state, exception), exception));
}
