using System.Collections.Concurrent;

namespace MNet.Transport.Tcp;

/// <summary>
/// What a send in progress needs, shared by one loop's connections (the portable backend's socket operations,
/// io_uring's gather lists): a connection holds one only while it sends, so an idle connection holds none. Any thread.
/// </summary>
/// <param name="create">Makes one when none is pooled.</param>
/// <param name="maxPooled">How many are kept for reuse; what a burst needs beyond that is dropped once returned.</param>
internal sealed class SendStatePool<T>(Func<T> create, int maxPooled) where T : class
{
    private readonly ConcurrentQueue<T> _items = new();
    private int _count;

    /// <summary>A pooled one, or a new one.</summary>
    public T Rent()
    {
        if (_items.TryDequeue(out T? item))
        {
            Interlocked.Decrement(ref _count);
            return item;
        }
        return create();
    }

    /// <summary>
    /// Takes back one whose send has completed and which keeps no memory of it; beyond <c>maxPooled</c> it is dropped,
    /// and disposed if it is <see cref="IDisposable"/>.
    /// </summary>
    public void Return(T item)
    {
        if (Interlocked.Increment(ref _count) <= maxPooled)
        {
            _items.Enqueue(item);
            return;
        }
        Interlocked.Decrement(ref _count);
        (item as IDisposable)?.Dispose();
    }
}
