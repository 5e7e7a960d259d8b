namespace MNet.Transport.Loop;

/// <summary>
/// The <see cref="IPoller"/> of the portable backend: no descriptors, only wake-ups. .NET's socket engine does the
/// waiting for I/O and posts completions to the loop, whose <see cref="EventLoop.Schedule"/> wakes this.
/// </summary>
internal sealed class SignalPoller : IPoller
{
    // No spinning: the loop already yields once before it sleeps.
    private readonly ManualResetEventSlim _signal = new(initialState: false, spinCount: 0);

    public int Wait(Span<PollEvent> events, int timeoutMilliseconds)
    {
        if (timeoutMilliseconds == 0 ? _signal.IsSet : _signal.Wait(timeoutMilliseconds))
        {
            // Work queued before the wake-up is run after this returns, so clearing the signal loses nothing.
            _signal.Reset();
        }
        return 0;
    }

    public void Wake() => _signal.Set();

    // The event is not disposed: a Wake from a thread that scheduled late may still arrive (and is then harmless).
    public void Dispose()
    {
    }
}
