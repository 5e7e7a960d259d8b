using System.Diagnostics;

namespace MNet.Transport.Timers;

/// <summary>Millisecond ticks of <see cref="Stopwatch"/>'s monotonic clock: the wall clock may jump, this never does.</summary>
internal static class MonotonicClock
{
    private static readonly long s_timestampsPerTick = Stopwatch.Frequency / 1000;

    /// <summary>The current tick, rounded down: a tick counts once it has fully begun.</summary>
    public static long NowTick() => Stopwatch.GetTimestamp() / s_timestampsPerTick;

    /// <summary>The first tick at or after <paramref name="delay"/> from now, rounded up so nothing due then fires early.</summary>
    public static long TickAfter(TimeSpan delay)
    {
        long due = Stopwatch.GetTimestamp() + (long)((Int128)delay.Ticks * Stopwatch.Frequency / TimeSpan.TicksPerSecond);
        return (due + s_timestampsPerTick - 1) / s_timestampsPerTick;
    }

    /// <summary>Whole milliseconds until <paramref name="tick"/> has begun, for a poll timeout (0 if it has).</summary>
    public static int MillisecondsUntil(long tick)
    {
        long remaining = tick - NowTick();
        return remaining <= 0 ? 0 : (int)Math.Min(remaining, int.MaxValue);
    }
}
