using Microsoft.Extensions.Logging;

namespace MNet.Transport.Loop;

/// <summary>A fixed set of running <see cref="EventLoop"/>s: loop threads of their own, or one loop a caller drives.</summary>
internal sealed class LoopGroup : IAsyncDisposable
{
    private readonly EventLoop[] _loops;
    private int _next = -1;

    public LoopGroup(int count, Func<IPoller> createPoller, ILogger logger)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        _loops = new EventLoop[count];
        try
        {
            for (int i = 0; i < count; i++)
            {
                _loops[i] = new EventLoop(i, createPoller(), logger);
                _loops[i].Start();
            }
        }
        catch
        {
            foreach (EventLoop? loop in _loops)
            {
                loop?.StopAsync();
            }
            throw;
        }
    }

    /// <summary>A group of one loop that the calling thread drives.</summary>
    public LoopGroup(IPoller poller, ILogger logger)
    {
        EventLoop loop = new(0, poller, logger);
        loop.AttachToCurrentThread();
        _loops = [loop];
    }

    public int Count => _loops.Length;

    public EventLoop this[int index] => _loops[index];

    /// <summary>The loops in turn, for work that is not tied to one.</summary>
    public EventLoop Next() => _loops[(int)((uint)Interlocked.Increment(ref _next) % (uint)_loops.Length)];

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(_loops.Select(loop => loop.StopAsync())).ConfigureAwait(false);
    }
}
