using System.Diagnostics;

namespace MNet.Transport.Diagnostics;

/// <summary>Lets a repeated message through at most once per interval, however many threads hit it.</summary>
internal sealed class LogThrottle
{
    private readonly long _interval;
    private long _lastLogged;

    public LogThrottle(TimeSpan interval)
    {
        _interval = (long)(interval.TotalSeconds * Stopwatch.Frequency);
        _lastLogged = -_interval;
    }

    /// <summary>Whether the message is to be logged now. Any thread.</summary>
    public bool ShouldLog()
    {
        long now = Stopwatch.GetTimestamp();
        long last = Volatile.Read(ref _lastLogged);
        return now - last >= _interval && Interlocked.CompareExchange(ref _lastLogged, now, last) == last;
    }
}
