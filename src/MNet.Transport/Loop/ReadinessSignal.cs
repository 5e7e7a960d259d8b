using System.Threading.Tasks.Sources;

namespace MNet.Transport.Loop;

/// <summary>
/// A reusable, allocation-free awaitable for one waiter on one loop thread: <see cref="Set"/> resumes the
/// waiter inline, or is remembered until the next <see cref="WaitAsync"/>. Not thread-safe by design.
/// </summary>
internal sealed class ReadinessSignal : IValueTaskSource
{
    private ManualResetValueTaskSourceCore<bool> _core;
    private bool _isSet;
    private bool _isWaiting;

    public ValueTask WaitAsync()
    {
        if (_isSet)
        {
            _isSet = false;
            return default;
        }

        _core.Reset();
        _isWaiting = true;
        return new ValueTask(this, _core.Version);
    }

    public void Set()
    {
        if (_isWaiting)
        {
            _isWaiting = false;
            _core.SetResult(true);
        }
        else
        {
            _isSet = true;
        }
    }

    /// <summary>Forgets a <see cref="Set"/> that nobody waited for.</summary>
    public void Reset() => _isSet = false;

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _core.OnCompleted(continuation, state, token, flags);
}
