using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MNet.Transport.Tcp;

/// <summary>
/// One reusable receive or send of the portable backend: a <see cref="SocketAsyncEventArgs"/> that is awaited
/// directly, so steady-state I/O allocates nothing. A completion that did not happen at once resumes the awaiter on
/// <c>scheduler</c>. One operation at a time.
/// </summary>
internal sealed class SocketOperation : SocketAsyncEventArgs, ICriticalNotifyCompletion
{
    private static readonly Action s_completed = static () => { };

    private readonly PipeScheduler _scheduler;
    private List<ArraySegment<byte>>? _segments;
    private Action? _continuation;

    public SocketOperation(PipeScheduler scheduler)
        : base(unsafeSuppressExecutionContextFlow: true)
    {
        _scheduler = scheduler;
    }

    public bool IsCompleted => ReferenceEquals(_continuation, s_completed);

    public SocketOperation ReceiveAsync(Socket socket, Memory<byte> buffer)
    {
        SetBuffer(buffer);
        return Started(socket.ReceiveAsync(this));
    }

    public SocketOperation SendAsync(Socket socket, in ReadOnlySequence<byte> buffer)
    {
        if (buffer.IsSingleSegment)
        {
            if (BufferList is not null)
            {
                BufferList = null;
            }
            SetBuffer(MemoryMarshal.AsMemory(buffer.First));
        }
        else
        {
            SetBuffer(null, 0, 0);
            BufferList = Segments(buffer);
        }
        return Started(socket.SendAsync(this));
    }

    /// <summary>Lets go of the last operation's memory.</summary>
    public void ClearBuffers()
    {
        if (BufferList is not null)
        {
            BufferList = null;
            _segments!.Clear();
        }
        SetBuffer(Memory<byte>.Empty);
    }

    public SocketOperation GetAwaiter() => this;

    /// <returns>The bytes transferred.</returns>
    /// <exception cref="SocketException">The operation failed.</exception>
    public int GetResult()
    {
        _continuation = null;
        if (SocketError != SocketError.Success)
        {
            throw new SocketException((int)SocketError);
        }
        return BytesTransferred;
    }

    public void OnCompleted(Action continuation) => UnsafeOnCompleted(continuation);

    public void UnsafeOnCompleted(Action continuation)
    {
        if (ReferenceEquals(_continuation, s_completed)
            || ReferenceEquals(Interlocked.CompareExchange(ref _continuation, continuation, null), s_completed))
        {
            // Completed between IsCompleted and here.
            Schedule(continuation);
        }
    }

    protected override void OnCompleted(SocketAsyncEventArgs _)
    {
        Action? continuation = Interlocked.Exchange(ref _continuation, s_completed);
        if (continuation is not null)
        {
            Schedule(continuation);
        }
    }

    private SocketOperation Started(bool pending)
    {
        if (!pending)
        {
            _continuation = s_completed;
        }
        return this;
    }

    private void Schedule(Action continuation)
        => _scheduler.Schedule(static state => ((Action)state!)(), continuation);

    private List<ArraySegment<byte>> Segments(in ReadOnlySequence<byte> buffer)
    {
        List<ArraySegment<byte>> segments = _segments ??= [];
        segments.Clear();
        foreach (ReadOnlyMemory<byte> memory in buffer)
        {
            // Pipe segments come from the transport's pool or ArrayPool: arrays, always.
            if (!MemoryMarshal.TryGetArray(memory, out ArraySegment<byte> segment))
            {
                throw new InvalidOperationException("A send buffer is not backed by an array.");
            }
            segments.Add(segment);
        }
        return segments;
    }
}
