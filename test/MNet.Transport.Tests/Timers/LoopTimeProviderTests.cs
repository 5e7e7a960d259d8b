using System.Collections.Concurrent;
using System.Diagnostics;
using MNet.Transport.Loop;
using MNet.Transport.Tests.Infrastructure;
using MNet.Transport.Timers;
using Microsoft.Extensions.Logging;

namespace MNet.Transport.Tests.Timers;

/// <summary>Timers on a running loop, through the <see cref="TimeProvider"/> surface applications use.</summary>
public sealed class LoopTimeProviderTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task TenThousandRandomTimers_FireOnTheLoopThread_InDueOrder_AndNeverEarly()
    {
        EventLoop loop = TestLoops.Start(new RecordingLogger());
        try
        {
            const int count = 10_000;
            Random random = new(42);
            ConcurrentQueue<(long DueTick, TimeSpan Delay, TimeSpan Elapsed, bool OnLoop)> fired = new();
            TaskCompletionSource allFired = new(TaskCreationOptions.RunContinuationsAsynchronously);
            int remaining = count;
            List<ITimer> timers = new(count);
            TaskCompletionSource created = new(TaskCreationOptions.RunContinuationsAsynchronously);

            // Created on the loop in one go, so the wheel knows them all before any is due and "due order" is exact.
            loop.Schedule(_ =>
            {
                for (int i = 0; i < count; i++)
                {
                    TimeSpan delay = TimeSpan.FromMilliseconds(random.Next(0, 300));
                    long createdAt = Stopwatch.GetTimestamp();
                    LoopTimer? timer = null;
                    timer = (LoopTimer)loop.TimeProvider.CreateTimer(_ =>
                    {
                        fired.Enqueue((timer!.DueTick, delay, Stopwatch.GetElapsedTime(createdAt), loop.IsOnLoopThread));
                        if (Interlocked.Decrement(ref remaining) == 0)
                        {
                            allFired.SetResult();
                        }
                    }, null, delay, Timeout.InfiniteTimeSpan);
                    timers.Add(timer);
                }
                created.SetResult();
            }, null);

            await created.Task.WaitAsync(s_timeout);
            await allFired.Task.WaitAsync(s_timeout);
            (long DueTick, TimeSpan Delay, TimeSpan Elapsed, bool OnLoop)[] order = fired.ToArray();
            Assert.Equal(count, order.Length);
            Assert.All(order, f => Assert.True(f.OnLoop));
            Assert.All(order, f => Assert.True(f.Elapsed >= f.Delay, $"asked {f.Delay.TotalMilliseconds} ms, fired after {f.Elapsed.TotalMilliseconds} ms"));
            for (int i = 1; i < order.Length; i++)
            {
                Assert.True(order[i].DueTick >= order[i - 1].DueTick, $"out of due order at {i}");
            }
            timers.ForEach(t => t.Dispose());
        }
        finally
        {
            await loop.StopAsync();
        }
    }

    [Fact]
    public async Task PeriodicTimer_KeepsItsPhaseOver200Ticks_EvenWithASlowCallback_AndNoTickIsEarly()
    {
        EventLoop loop = TestLoops.Start(new RecordingLogger());
        try
        {
            const int ticks = 200;
            const int periodMs = 10;
            long start = Stopwatch.GetTimestamp();
            List<(long DueTick, TimeSpan Elapsed)> seen = [];
            TaskCompletionSource done = new(TaskCreationOptions.RunContinuationsAsynchronously);
            LoopTimer? timer = null;
            timer = (LoopTimer)loop.TimeProvider.CreateTimer(_ =>
            {
                // The timer is already rescheduled here: its due tick is the next one.
                seen.Add((timer!.DueTick - periodMs, Stopwatch.GetElapsedTime(start)));
                Thread.Sleep(3); // a callback slower than nothing must not push the later ticks back
                if (seen.Count == ticks)
                {
                    timer.Dispose();
                    done.SetResult();
                }
            }, null, TimeSpan.FromMilliseconds(periodMs), TimeSpan.FromMilliseconds(periodMs));

            await done.Task.WaitAsync(s_timeout);
            await Task.Delay(4 * periodMs);
            Assert.Equal(ticks, seen.Count); // and none after the dispose

            long first = seen[0].DueTick;
            for (int i = 0; i < ticks; i++)
            {
                long offset = seen[i].DueTick - first;
                Assert.True(offset % periodMs == 0, $"tick {i} is off the phase by {offset % periodMs} ms");
                Assert.True(offset >= (long)i * periodMs, $"tick {i} came before its turn");
                Assert.True(seen[i].Elapsed >= TimeSpan.FromMilliseconds(periodMs) + TimeSpan.FromMilliseconds(offset),
                    $"tick {i} fired early: {seen[i].Elapsed.TotalMilliseconds} ms");
            }
        }
        finally
        {
            await loop.StopAsync();
        }
    }

    [Fact]
    public async Task DisposeOrChangeToInfinite_FromAnotherThread_BeforeDue_NeverFires()
    {
        EventLoop loop = TestLoops.Start(new RecordingLogger());
        try
        {
            int[] fired = new int[400];
            ITimer[] timers = Enumerable.Range(0, fired.Length)
                .Select(i => loop.TimeProvider.CreateTimer(_ => Interlocked.Increment(ref fired[i]), null, TimeSpan.FromMilliseconds(100), Timeout.InfiniteTimeSpan))
                .ToArray();
            await Task.Run(() =>
            {
                for (int i = 0; i < timers.Length; i += 4)
                {
                    timers[i].Dispose();
                    Assert.False(timers[i].Change(TimeSpan.FromMilliseconds(1), Timeout.InfiniteTimeSpan)); // disposed stays disposed
                    Assert.True(timers[i + 1].Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan));
                }
            });

            TaskCompletionSource marker = new(TaskCreationOptions.RunContinuationsAsynchronously);
            using ITimer after = loop.TimeProvider.CreateTimer(_ => marker.SetResult(), null, TimeSpan.FromMilliseconds(150), Timeout.InfiniteTimeSpan);
            await marker.Task.WaitAsync(s_timeout); // every 100 ms timer that was going to fire has fired

            for (int i = 0; i < fired.Length; i++)
            {
                Assert.Equal(i % 4 < 2 ? 0 : 1, Volatile.Read(ref fired[i]));
            }
        }
        finally
        {
            await loop.StopAsync();
        }
    }

    [Fact]
    public async Task ACallbackThatThrows_IsLoggedOnce_AndLaterTimersStillFire()
    {
        RecordingLogger logger = new();
        EventLoop loop = TestLoops.Start(logger);
        try
        {
            using ITimer thrower = loop.TimeProvider.CreateTimer(_ => throw new InvalidOperationException("timer failed"), null, TimeSpan.FromMilliseconds(5), Timeout.InfiniteTimeSpan);
            TaskCompletionSource later = new(TaskCreationOptions.RunContinuationsAsynchronously);
            using ITimer next = loop.TimeProvider.CreateTimer(_ => later.SetResult(), null, TimeSpan.FromMilliseconds(30), Timeout.InfiniteTimeSpan);

            await later.Task.WaitAsync(s_timeout);
            LogEntry entry = Assert.Single(logger.Entries);
            Assert.Equal(LogLevel.Error, entry.Level);
            Assert.Equal("timer failed", entry.Exception?.Message);
        }
        finally
        {
            await loop.StopAsync();
        }
    }

    [Fact]
    public async Task Change_RejectsOutOfRangeTimes()
    {
        EventLoop loop = TestLoops.Start(new RecordingLogger());
        Assert.Throws<ArgumentOutOfRangeException>("dueTime", () => loop.TimeProvider.CreateTimer(_ => { }, null, TimeSpan.FromMilliseconds(-2), Timeout.InfiniteTimeSpan));
        using ITimer timer = loop.TimeProvider.CreateTimer(_ => { }, null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        Assert.Throws<ArgumentOutOfRangeException>("period", () => timer.Change(TimeSpan.Zero, TimeSpan.FromDays(60)));
        Assert.Throws<ArgumentNullException>("callback", () => loop.TimeProvider.CreateTimer(null!, null, TimeSpan.Zero, TimeSpan.Zero));
        await loop.StopAsync();
    }
}
