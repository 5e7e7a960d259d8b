using BenchmarkDotNet.Attributes;
using MNet.Transport.Timers;
using Microsoft.Extensions.Logging.Abstractions;

namespace MicroBench;

/// <summary>
/// Scheduling and cancelling one timer on a wheel that already holds 10,000 spread over every level, as a
/// connect or idle timeout does per connection. The entry is reused, so nothing should be allocated.
/// </summary>
[MemoryDiagnoser]
public class TimerWheelBenchmarks
{
    private readonly TimerWheel _wheel = new(0, NullLogger.Instance);
    private readonly NoopEntry _entry = new();
    private long _due;

    [GlobalSetup]
    public void Setup()
    {
        Random random = new(7);
        for (int i = 0; i < 10_000; i++)
        {
            _wheel.Schedule(new NoopEntry(), 1 + (long)Math.Pow(2, random.NextDouble() * 24));
        }
    }

    [Benchmark(Description = "schedule + cancel")]
    public void ScheduleAndCancel()
    {
        _due = (_due + 7919) & 0xFFFFF; // distances from 1 ms to about 17 minutes: every level in turn
        _wheel.Schedule(_entry, 1 + _due);
        _wheel.Cancel(_entry);
    }

    private sealed class NoopEntry : TimerEntry
    {
        protected internal override void Fire()
        {
        }
    }
}
