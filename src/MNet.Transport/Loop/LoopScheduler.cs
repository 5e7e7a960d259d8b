using System.IO.Pipelines;

namespace MNet.Transport.Loop;

/// <summary>A <see cref="PipeScheduler"/> that runs continuations on an <see cref="EventLoop"/> thread.</summary>
internal sealed class LoopScheduler(EventLoop loop) : PipeScheduler
{
    public override void Schedule(Action<object?> action, object? state) => loop.Schedule(action, state);
}
