using System.Diagnostics.Metrics;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>Adds up one "MNet.Transport" counter's measurements (those with a given tag, if one is named) while it listens.</summary>
internal sealed class MetricCounter : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _total;

    public MetricCounter(string instrumentName, string? tagKey = null, string? tagValue = null)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "MNet.Transport" && instrument.Name == instrumentName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            if (tagKey is null || HasTag(tags, tagKey, tagValue))
            {
                Interlocked.Add(ref _total, value);
            }
        });
        _listener.Start();
    }

    public long Total => Interlocked.Read(ref _total);

    public void Dispose() => _listener.Dispose();

    private static bool HasTag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string key, string? value)
    {
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            if (tag.Key == key && Equals(tag.Value, value))
            {
                return true;
            }
        }
        return false;
    }
}
