namespace MNet.Transport.Loop;

/// <summary>Posts continuations to an <see cref="EventLoop"/>, so awaits made on a caller-driven loop's thread resume inside its RunOnce.</summary>
internal sealed class LoopSynchronizationContext(EventLoop loop) : SynchronizationContext
{
    public override void Post(SendOrPostCallback d, object? state)
        => loop.Schedule(static s => ((PostedCallback)s!).Invoke(), new PostedCallback(d, state));

    public override void Send(SendOrPostCallback d, object? state)
    {
        if (!loop.IsOnLoopThread)
        {
            throw new NotSupportedException("Work can only be sent to an event loop from its own thread; post it instead.");
        }
        d(state);
    }

    public override SynchronizationContext CreateCopy() => this;

    private sealed record PostedCallback(SendOrPostCallback Callback, object? State)
    {
        public void Invoke() => Callback(State);
    }
}
