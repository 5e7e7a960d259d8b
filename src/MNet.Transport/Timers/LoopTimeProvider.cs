using MNet.Transport.Hosting;
using MNet.Transport.Loop;

namespace MNet.Transport.Timers;

/// <summary>
/// A <see cref="TimeProvider"/> whose timers run on an MNet event loop: <see cref="TimeProvider.CreateTimer"/>,
/// and through it <c>Task.Delay(delay, provider)</c>, <see cref="PeriodicTimer"/> and
/// <c>new CancellationTokenSource(delay, provider)</c>. Timers use the monotonic clock in whole milliseconds,
/// never fire early, and periodic ones keep their phase. Callbacks run on the loop thread, so they should be short;
/// one that throws is logged and the loop goes on.
/// </summary>
public sealed class LoopTimeProvider : TimeProvider
{
    private readonly EventLoop _loop;

    internal LoopTimeProvider(EventLoop loop) => _loop = loop;

    /// <summary>Timers on the process's shared loop, the one <see cref="Udp.UdpChannel.Bind(System.Net.IPEndPoint, Udp.UdpChannelOptions?)"/> uses.</summary>
    public static LoopTimeProvider Shared => TransportRuntime.SharedLoop.TimeProvider;

    /// <inheritdoc />
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        LoopTimer timer = new(_loop, callback, state, ExecutionContext.IsFlowSuppressed() ? null : ExecutionContext.Capture());
        timer.Change(dueTime, period);
        return timer;
    }
}
