using MNet.Transport.Hosting;
using MNet.Transport.Loop;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>Event loops for tests: one a test owns outright, or one per backend shared by the whole run.</summary>
internal static class TestLoops
{
    private static readonly Lazy<TransportRuntime> s_portable = new(() => OneLoop(MNetBackend.Portable));
    private static readonly Lazy<TransportRuntime> s_ioUring = new(() => OneLoop(MNetBackend.IoUring));

    /// <summary>Loop 0 on its own epoll poller and thread.</summary>
    public static EventLoop Start(ILogger logger)
    {
        EventLoop loop = new(0, new EpollPoller(), logger);
        loop.Start();
        return loop;
    }

    /// <summary>A loop of <paramref name="backend"/> that runs for the rest of the test run (epoll's is the process's shared loop).</summary>
    public static EventLoop Shared(MNetBackend backend) => backend switch
    {
        MNetBackend.Epoll => TransportRuntime.SharedLoop,
        MNetBackend.Portable => s_portable.Value.EnsureStarted().Loops[0],
        MNetBackend.IoUring => s_ioUring.Value.EnsureStarted().Loops[0],
        _ => throw new ArgumentOutOfRangeException(nameof(backend), backend, null),
    };

    /// <summary>What <paramref name="read"/> returns when run on <paramref name="loop"/>'s thread (for state only it may touch).</summary>
    public static Task<T> ReadOnLoopAsync<T>(EventLoop loop, Func<EventLoop, T> read)
    {
        TaskCompletionSource<T> result = new(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.Schedule(_ => result.SetResult(read(loop)), null);
        return result.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    private static TransportRuntime OneLoop(MNetBackend backend) => new(new MNetTransportOptions { Backend = backend, LoopCount = 1 }, NullLogger.Instance);
}
