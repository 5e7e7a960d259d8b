using MNet.Transport.Tests.Infrastructure;
using MNet.Transport.Timers;

namespace MNet.Transport.Tests.Timers;

/// <summary>The wheel itself, driven by explicit ticks so every level and every move down is exercised exactly.</summary>
public sealed class TimerWheelTests
{
    [Fact]
    public void RandomTimersAcrossEveryLevel_FireInDueOrder_NeverEarly_AndTheWheelEmpties()
    {
        Random random = new(1234);
        const long start = 1_000_000;
        TimerWheel wheel = new(start, new RecordingLogger());
        List<(long Due, long FiredAt)> fired = [];
        long now = start;
        for (int i = 0; i < 10_000; i++)
        {
            // Delays from 1 ms to about 35 minutes, log-spread so every level gets its share.
            long due = start + (long)Math.Pow(2, random.NextDouble() * 21);
            wheel.Schedule(new RecordingEntry(() => fired.Add((due, now))), due);
        }

        // Advance in uneven steps, now and then a long jump.
        while (wheel.Count > 0)
        {
            now += random.Next(10) == 0 ? random.Next(1, 100_000) : random.Next(1, 50);
            wheel.RunDue(now);
        }

        Assert.Equal(10_000, fired.Count);
        Assert.All(fired, f => Assert.True(f.FiredAt >= f.Due, $"due {f.Due}, fired at {f.FiredAt}"));
        for (int i = 1; i < fired.Count; i++)
        {
            Assert.True(fired[i].Due >= fired[i - 1].Due, $"fired out of order at {i}: {fired[i - 1].Due} then {fired[i].Due}");
        }
    }

    [Fact]
    public void EachTimerFiresOnTheFirstPassAtItsTick_NotBeforeAndNotLater()
    {
        const long start = 4095; // just before a level-1 and level-2 boundary
        TimerWheel wheel = new(start, new RecordingLogger());
        long[] delays = [1, 2, 63, 64, 65, 4095, 4096, 4097, 262_144, 300_000];
        List<long> firedAt = [];
        long now = start;
        foreach (long delay in delays)
        {
            wheel.Schedule(new RecordingEntry(() => firedAt.Add(now)), start + delay);
        }

        // Step one tick at a time, asking the wheel when it next has work: it never says "later" than a due timer.
        while (wheel.Count > 0)
        {
            long next = wheel.NextTick();
            Assert.True(next > now);
            now = next - 1;
            Assert.Equal(0, wheel.RunDue(now));
            now = next;
            wheel.RunDue(now);
        }
        Assert.Equal(delays.Select(d => start + d), firedAt);
    }

    [Fact]
    public void Cancel_BeforeDue_NeverFires_AndCancellingTwiceOrUnscheduledIsHarmless()
    {
        TimerWheel wheel = new(0, new RecordingLogger());
        int fired = 0;
        RecordingEntry[] entries = Enumerable.Range(0, 1000).Select(_ => new RecordingEntry(() => fired++)).ToArray();
        for (int i = 0; i < entries.Length; i++)
        {
            wheel.Schedule(entries[i], 1 + i * 97 % 5000);
        }
        for (int i = 0; i < entries.Length; i += 2)
        {
            wheel.Cancel(entries[i]);
            wheel.Cancel(entries[i]);
        }
        Assert.Equal(500, wheel.Count);

        wheel.RunDue(10_000);
        Assert.Equal(500, fired);
        Assert.All(entries.Where((_, i) => i % 2 == 0), e => Assert.Equal(0, e.Fired));
        Assert.Equal(0, wheel.Count);
        Assert.Equal(long.MaxValue, wheel.NextTick());
    }

    [Fact]
    public void Schedule_AgainMovesTheTimer_AndATickAlreadyPassedFiresOnTheNextPass()
    {
        TimerWheel wheel = new(100, new RecordingLogger());
        RecordingEntry entry = new(() => { });
        wheel.Schedule(entry, 5000);
        wheel.Schedule(entry, 150);
        Assert.Equal(1, wheel.Count);
        wheel.RunDue(150);
        Assert.Equal(1, entry.Fired);

        wheel.Schedule(entry, 20); // in the past
        Assert.Equal(151, wheel.NextTick());
        wheel.RunDue(151);
        Assert.Equal(2, entry.Fired);
    }

    [Fact]
    public void ACallbackThatThrows_IsLogged_AndTheOthersStillFire()
    {
        RecordingLogger logger = new();
        TimerWheel wheel = new(0, logger);
        RecordingEntry before = new(() => { });
        RecordingEntry thrower = new(() => throw new InvalidOperationException("boom"));
        RecordingEntry sameTick = new(() => { });
        RecordingEntry after = new(() => { });
        wheel.Schedule(before, 5);
        wheel.Schedule(thrower, 10);
        wheel.Schedule(sameTick, 10);
        wheel.Schedule(after, 70);

        Assert.Equal(4, wheel.RunDue(100));
        Assert.Equal([1, 1, 1, 1], new[] { before, thrower, sameTick, after }.Select(e => e.Fired));
        LogEntry entry = Assert.Single(logger.Entries);
        Assert.Equal("boom", entry.Exception?.Message);
    }

    [Fact]
    public void ACallbackMayCancelAnotherDueAtTheSameTick()
    {
        TimerWheel wheel = new(0, new RecordingLogger());
        RecordingEntry victim = new(() => { });
        RecordingEntry canceller = new(() => wheel.Cancel(victim));
        wheel.Schedule(victim, 10);
        wheel.Schedule(canceller, 10); // linked in front, so it fires first

        wheel.RunDue(10);
        Assert.Equal(1, canceller.Fired);
        Assert.Equal(0, victim.Fired);
        Assert.Equal(0, wheel.Count);
    }

    private sealed class RecordingEntry(Action onFire) : TimerEntry
    {
        public int Fired { get; private set; }

        protected internal override void Fire()
        {
            Fired++;
            onFire();
        }
    }
}
