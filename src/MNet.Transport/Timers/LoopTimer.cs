using MNet.Transport.Loop;

namespace MNet.Transport.Timers;

/// <summary>
/// An <see cref="ITimer"/> on an event loop's <see cref="TimerWheel"/>. Its callback runs on the loop thread.
/// <see cref="Change"/> and <see cref="Dispose"/> work from any thread: the due time is fixed when they are called
/// and applied on the loop (at once when called there). A periodic timer keeps its phase: each due tick is the last
/// one plus the period, not the time the callback ran plus the period.
/// </summary>
internal sealed class LoopTimer : TimerEntry, ITimer
{
    private const long NotScheduled = long.MaxValue;

    // Timer's limit: 0xFFFFFFFE ms, Timeout.Infinite being -1.
    private static readonly TimeSpan s_maxDelay = TimeSpan.FromMilliseconds(uint.MaxValue - 1);
    private static readonly ContextCallback s_invoke = static state => ((LoopTimer)state!).Invoke();

    private readonly EventLoop _loop;
    private readonly TimerCallback _callback;
    private readonly object? _state;
    private readonly ExecutionContext? _executionContext;
    private readonly Lock _lock = new();
    private long _requestedDueTick = NotScheduled;
    private long _requestedPeriod;
    private bool _applyQueued;
    private volatile bool _disposed;
    private long _period;

    public LoopTimer(EventLoop loop, TimerCallback callback, object? state, ExecutionContext? executionContext)
    {
        _loop = loop;
        _callback = callback;
        _state = state;
        _executionContext = executionContext;
    }

    public bool Change(TimeSpan dueTime, TimeSpan period)
    {
        Validate(dueTime, nameof(dueTime));
        Validate(period, nameof(period));
        long dueTick = dueTime == Timeout.InfiniteTimeSpan ? NotScheduled : MonotonicClock.TickAfter(dueTime);
        long periodTicks = period == Timeout.InfiniteTimeSpan || period == TimeSpan.Zero
            ? 0
            : Math.Max(1, (long)Math.Ceiling(period.TotalMilliseconds));

        lock (_lock)
        {
            if (_disposed)
            {
                return false;
            }
            _requestedDueTick = dueTick;
            _requestedPeriod = periodTicks;
            ApplySoonLocked();
        }
        return true;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            ApplySoonLocked();
        }
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return default;
    }

    protected internal override void Fire()
    {
        if (_disposed)
        {
            return; // disposed on another thread; the cancellation is on its way
        }
        if (_period > 0)
        {
            long next = DueTick + _period;
            long now = MonotonicClock.NowTick();
            if (next <= now)
            {
                next += (now - next) / _period * _period + _period; // whole periods were missed: skip them, keep the phase
            }
            _loop.Timers.Schedule(this, next);
        }

        if (_executionContext is null)
        {
            Invoke();
        }
        else
        {
            ExecutionContext.Run(_executionContext, s_invoke, this);
        }
    }

    private void Invoke() => _callback(_state);

    private void ApplySoonLocked()
    {
        if (_loop.IsOnLoopThread)
        {
            ApplyLocked();
        }
        else if (!_applyQueued)
        {
            _applyQueued = true;
            _loop.Schedule(static state => ((LoopTimer)state!).Apply(), this);
        }
    }

    private void Apply()
    {
        lock (_lock)
        {
            _applyQueued = false;
            ApplyLocked();
        }
    }

    private void ApplyLocked()
    {
        if (_loop.HasExited)
        {
            return; // the wheel went with the loop (this runs on the thread pool then)
        }
        TimerWheel timers = _loop.Timers;
        if (_disposed || _requestedDueTick == NotScheduled)
        {
            timers.Cancel(this);
            return;
        }
        _period = _requestedPeriod;
        timers.Schedule(this, _requestedDueTick);
    }

    private static void Validate(TimeSpan value, string name)
    {
        if ((value < TimeSpan.Zero && value != Timeout.InfiniteTimeSpan) || value > s_maxDelay)
        {
            throw new ArgumentOutOfRangeException(name, value, $"Must be between zero and {s_maxDelay}, or Timeout.InfiniteTimeSpan.");
        }
    }
}
