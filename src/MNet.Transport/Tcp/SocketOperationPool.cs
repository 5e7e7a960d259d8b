using System.Collections.Concurrent;
using System.IO.Pipelines;

namespace MNet.Transport.Tcp;

/// <summary>
/// Send operations of the portable backend shared by one loop's connections: a connection holds one only while a send
/// is in progress, so an idle connection costs none.
/// </summary>
internal sealed class SocketOperationPool
{
    private const int MaxPooled = 1024;

    private readonly PipeScheduler _scheduler;
    private readonly ConcurrentQueue<SocketOperation> _operations = new();
    private int _count;

    public SocketOperationPool(PipeScheduler scheduler)
    {
        _scheduler = scheduler;
    }

    public SocketOperation Rent()
    {
        if (_operations.TryDequeue(out SocketOperation? operation))
        {
            Interlocked.Decrement(ref _count);
            return operation;
        }
        return new SocketOperation(_scheduler);
    }

    /// <summary>Takes back an operation that has completed; beyond <see cref="MaxPooled"/> it is dropped.</summary>
    public void Return(SocketOperation operation)
    {
        operation.ClearBuffers(); // so the pool keeps no pipe memory alive
        if (Interlocked.Increment(ref _count) <= MaxPooled)
        {
            _operations.Enqueue(operation);
            return;
        }
        Interlocked.Decrement(ref _count);
        operation.Dispose();
    }
}
