using System.Collections.Concurrent;
using MNet.Transport.Loop;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>
/// One thread that makes, waits on and disposes a poller, as its loop thread would: io_uring rings take their first
/// waiter as their only submitter. Other threads may <see cref="IPoller.Wake"/> <see cref="Poller"/>.
/// </summary>
internal sealed class PollerThread : IDisposable
{
    private readonly BlockingCollection<Action> _work = [];
    private readonly Thread _thread;
    private readonly TaskCompletionSource<IPoller> _created = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public PollerThread(Func<IPoller> create)
    {
        _thread = new Thread(() => Run(create)) { IsBackground = true, Name = "poller test thread" };
        _thread.Start();
        Poller = _created.Task.GetAwaiter().GetResult();
    }

    public IPoller Poller { get; }

    /// <summary>Runs <paramref name="action"/> on the poller's thread, after what was queued before it.</summary>
    public Task<T> Run<T>(Func<IPoller, T> action)
    {
        TaskCompletionSource<T> result = new(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try
            {
                result.SetResult(action(Poller));
            }
            catch (Exception ex)
            {
                result.SetException(ex);
            }
        });
        return result.Task;
    }

    /// <summary>Disposes the poller on its thread, after the work queued before.</summary>
    public void Dispose()
    {
        _work.CompleteAdding();
        Assert.True(_thread.Join(TimeSpan.FromSeconds(10)), "the poller's thread did not finish");
    }

    private void Run(Func<IPoller> create)
    {
        IPoller poller;
        try
        {
            poller = create();
        }
        catch (Exception ex)
        {
            _created.SetException(ex);
            return;
        }
        _created.SetResult(poller);
        using (poller)
        {
            foreach (Action action in _work.GetConsumingEnumerable())
            {
                action();
            }
        }
    }
}
