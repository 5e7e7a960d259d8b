using System.Collections.Concurrent;

namespace MNet.Transport.Tcp;

/// <summary>
/// What a send in progress needs, shared by one loop's connections (the portable backend's socket operations,
/// io_uring's gather lists): a connection holds one only while it sends, so an idle connection holds none. Any thread.
/// </summary>
internal sealed class SendStatePool<T>(Func<T> create) where T : class
{
    private const int MaxPooled = 1024;

    private readonly ConcurrentQueue<T> _items = new();
    private int _count;

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
    /// Takes back one whose send has completed and which keeps no memory of it; beyond <see cref="MaxPooled"/> it is
    /// dropped, and disposed if it is <see cref="IDisposable"/>.
    /// </summary>
    public void Return(T item)
    {
        if (Interlocked.Increment(ref _count) <= MaxPooled)
        {
            _items.Enqueue(item);
            return;
        }
        Interlocked.Decrement(ref _count);
        (item as IDisposable)?.Dispose();
    }
}
