using Microsoft.Extensions.Logging;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>Routes every category to one <see cref="RecordingLogger"/>.</summary>
public sealed class RecordingLoggerProvider : ILoggerProvider
{
    public RecordingLogger Logger { get; } = new();

    public ILogger CreateLogger(string categoryName) => Logger;

    public void Dispose()
    {
    }
}
