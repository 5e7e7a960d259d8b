using MNet.Transport.Loop;
using Microsoft.Extensions.Logging;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>Event loops a test owns outright: loop 0 on its own epoll poller and thread.</summary>
internal static class TestLoops
{
    public static EventLoop Start(ILogger logger)
    {
        EventLoop loop = new(0, new EpollPoller(), logger);
        loop.Start();
        return loop;
    }
}
