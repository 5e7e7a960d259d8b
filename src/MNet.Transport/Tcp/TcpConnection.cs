using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Runtime.CompilerServices;
using MNet.Transport.Diagnostics;
using MNet.Transport.Loop;
using MNet.Transport.Native;
using Microsoft.AspNetCore.Connections;

namespace MNet.Transport.Tcp;

/// <summary>
/// A connected stream socket (TCP or Unix) served by one <see cref="EventLoop"/>. Its receive and send loops run
/// on that loop's thread: epoll readiness resumes them inline, pipe continuations are scheduled onto it.
/// </summary>
internal sealed partial class TcpConnection : ConnectionContext, IPollHandler
{
    // Bytes read in one pass before the loop yields to other connections.
    private const int MaxBytesPerReceivePass = 256 * 1024;
    // After a read fills its buffer (a bulk transfer), later reads in the pass ask the pipe for this much at once.
    // That is more than a pool block, so the pipe takes it from ArrayPool: unpinned, which is fine because recv is
    // synchronous and pins for the call; one syscall then moves what took sixteen.
    private const int BulkReceiveSize = 64 * 1024;
    private const int MaxSendSegments = 64;

    private readonly TcpConnectionSettings _settings;
    private readonly EventLoop _loop;
    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly ReadinessSignal _readable = new();
    private readonly ReadinessSignal _writable = new();
    private readonly CancellationTokenSource _connectionClosedTokenSource = new();
    private int _fd;
    private ulong _registration;
    private bool _peerClosed;
    private bool _stopReceiving;
    private bool _bulkReceive;
    private Exception? _socketError;
    private volatile ConnectionAbortedException? _abortReason;
    private readonly TaskCompletionSource _processed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _closedFired;

    public TcpConnection(int fd, TcpConnectionSettings settings, EndPoint? localEndPoint, EndPoint? remoteEndPoint)
    {
        _fd = fd;
        _settings = settings;
        _loop = settings.Loop;
        _input = new Pipe(settings.InputOptions);
        _output = new Pipe(settings.OutputOptions);
        Transport = new DuplexPipe(_input.Reader, _output.Writer);
        LocalEndPoint = localEndPoint;
        RemoteEndPoint = remoteEndPoint;
        ConnectionClosed = _connectionClosedTokenSource.Token;
    }

    public override IDuplexPipe Transport { get; set; }

    public override CancellationToken ConnectionClosed { get; set; }

    /// <summary>Registers the socket and starts both I/O loops. Loop thread only.</summary>
    public void Start()
    {
        try
        {
            _registration = _loop.Register(_fd, this);
        }
        catch (Exception ex)
        {
            Libc.Close(_fd);
            _fd = -1;
            _input.Writer.Complete(ex);
            _output.Reader.Complete(ex);
            FireConnectionClosed();
            _processed.SetResult();
            return;
        }

        _ = RunAsync();
    }

    public override void Abort(ConnectionAbortedException abortReason)
    {
        if (Interlocked.CompareExchange(ref _abortReason, abortReason, null) is null)
        {
            _loop.Schedule(static state => ((TcpConnection)state!).StopBothDirections(), this);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        _input.Reader.Complete();
        _output.Writer.Complete();
        // Nobody reads any more: stop waiting for input, while what was written still drains to the socket.
        _loop.Schedule(static state => ((TcpConnection)state!).StopReceiving(), this);
        // The token source is not disposed: it has no timer, and ConnectionClosed may still fire on the thread pool.
        await _processed.Task.ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    void IPollHandler.OnPollEvents(PollEvents events)
    {
        if ((events & (PollEvents.Closed | PollEvents.Error)) != 0)
        {
            _peerClosed = true;
            _writable.Set();
        }
        if ((events & PollEvents.Writable) != 0)
        {
            _writable.Set();
        }
        if ((events & (PollEvents.Readable | PollEvents.Closed | PollEvents.Error)) != 0)
        {
            _readable.Set();
        }
    }

    void IPollHandler.OnLoopStopping()
        => Abort(new ConnectionAbortedException("The transport is shutting down."));

    private async Task RunAsync()
    {
        Task receiving = ReceiveAsync();
        Task sending = SendAsync();
        await receiving.ConfigureAwait(false);
        await sending.ConfigureAwait(false);

        if (_loop.IsOnLoopThread)
        {
            Close();
        }
        else
        {
            // Rare: a continuation ran off the loop (deep stack or a stopped loop); the close belongs to the loop.
            _loop.Schedule(static state => ((TcpConnection)state!).Close(), this);
        }
    }

    private void Close()
    {
        _idleTimer?.Dispose();
        CloseSocket();
        _processed.SetResult();
    }

    private async Task ReceiveAsync()
    {
        PipeWriter writer = _input.Writer;
        Exception? error = null;
        try
        {
            while (true)
            {
                await _readable.WaitAsync().ConfigureAwait(false);
                if (_stopReceiving)
                {
                    break;
                }

                ReceiveStatus status = ReceiveAvailable(writer);
                FlushResult flush = await writer.FlushAsync().ConfigureAwait(false);
                if (status == ReceiveStatus.EndOfStream || flush.IsCompleted || flush.IsCanceled || _stopReceiving)
                {
                    break;
                }
                if (status == ReceiveStatus.MoreAvailable)
                {
                    // Let other connections on this loop run before reading on.
                    _loop.Schedule(static state => ((TcpConnection)state!)._readable.Set(), this);
                }
            }
        }
        catch (ConnectionResetException ex)
        {
            error = ex;
        }
        catch (Exception ex)
        {
            MNetTransportLog.ConnectionError(_settings.Logger, ConnectionId, ex);
            error = ex;
        }

        if (error is not null)
        {
            _socketError ??= error;
            StopSending();
        }
        // A send that failed first (the reset seen on send) stopped receiving: the input still says why.
        writer.Complete(_abortReason ?? error ?? _socketError);
        FireConnectionClosed(); // as Kestrel's Sockets transport: the peer is gone (or went quiet for good)
    }

    private unsafe ReceiveStatus ReceiveAvailable(PipeWriter writer)
    {
        int total = 0;
        // A pass starts in a pool block (small messages need no array) unless the last pass was a bulk transfer.
        int sizeHint = _bulkReceive ? BulkReceiveSize : 0;
        while (true)
        {
            Memory<byte> memory = writer.GetMemory(sizeHint);
            nint received;
            fixed (byte* buffer = memory.Span)
            {
                received = Libc.Recv(_fd, buffer, memory.Length, 0);
            }

            if (received > 0)
            {
                writer.Advance((int)received);
                MarkActive();
                total += (int)received;
                _bulkReceive = total > _settings.MemoryPool.MaxBufferSize;
                if (received < memory.Length && !_peerClosed)
                {
                    // A short read drained the socket; the next arrival raises a new edge.
                    return ReceiveStatus.Drained;
                }
                if (total >= MaxBytesPerReceivePass)
                {
                    return ReceiveStatus.MoreAvailable;
                }
                sizeHint = BulkReceiveSize;
                continue;
            }

            if (received == 0)
            {
                return ReceiveStatus.EndOfStream;
            }

            int errno = Errno.Last;
            if (errno == Errno.EAGAIN)
            {
                return ReceiveStatus.Drained;
            }
            if (errno != Errno.EINTR)
            {
                throw Errno.ToException(errno);
            }
        }
    }

    private async Task SendAsync()
    {
        PipeReader reader = _output.Reader;
        Exception? error = null;
        try
        {
            while (true)
            {
                ReadResult result = await reader.ReadAsync().ConfigureAwait(false);
                if (result.IsCanceled || _abortReason is not null || _socketError is not null)
                {
                    break;
                }

                ReadOnlySequence<byte> buffer = result.Buffer;
                while (!buffer.IsEmpty)
                {
                    long sent = SendAvailable(buffer, out bool socketFull);
                    if (sent > 0)
                    {
                        MarkActive();
                    }
                    buffer = buffer.Slice(sent);
                    if (buffer.IsEmpty)
                    {
                        break;
                    }
                    if (!socketFull)
                    {
                        continue; // only part of a long buffer was offered; no EPOLLOUT edge will come for it
                    }

                    // The send just came up short on this thread, so any earlier writable signal is stale.
                    _writable.Reset();
                    await _writable.WaitAsync().ConfigureAwait(false);
                    if (_abortReason is not null || _socketError is not null)
                    {
                        break;
                    }
                }

                reader.AdvanceTo(buffer.Start);
                if (!buffer.IsEmpty)
                {
                    break;
                }
                if (result.IsCompleted)
                {
                    Libc.Shutdown(_fd, Libc.SHUT_WR);
                    break;
                }
            }
        }
        catch (ConnectionResetException ex)
        {
            error = ex;
        }
        catch (Exception ex)
        {
            MNetTransportLog.ConnectionError(_settings.Logger, ConnectionId, ex);
            error = ex;
        }

        if (error is not null)
        {
            _socketError ??= error;
            StopReceiving();
        }
        // After a graceful end (FIN sent) receiving goes on: the peer may still be sending (half-close).
        // As with Kestrel's Sockets transport, a reset or an abort ends the application's flushes with IsCompleted,
        // not an exception (Kestrel logs flush exceptions as unexpected); the input carries the reason.
        reader.Complete(error is ConnectionResetException ? null : error);
    }

    /// <summary>
    /// Writes as much of <paramref name="buffer"/> as the socket takes now (at most <see cref="MaxSendSegments"/>
    /// segments); <paramref name="socketFull"/> tells whether the kernel took less than it was offered, so that only
    /// an EPOLLOUT edge can make progress.
    /// </summary>
    private unsafe long SendAvailable(in ReadOnlySequence<byte> buffer, out bool socketFull)
    {
        if (buffer.IsSingleSegment)
        {
            ReadOnlySpan<byte> span = buffer.FirstSpan;
            fixed (byte* data = span)
            {
                long sent = SendBytes(data, span.Length);
                socketFull = sent < span.Length;
                return sent;
            }
        }

        IOVector* vectors = stackalloc IOVector[MaxSendSegments];
        SegmentHandles handles = default;
        int count = 0;
        long offered = 0;
        try
        {
            foreach (ReadOnlyMemory<byte> segment in buffer)
            {
                if (segment.IsEmpty)
                {
                    continue;
                }
                handles[count] = segment.Pin();
                vectors[count].Base = (byte*)handles[count].Pointer;
                vectors[count].Length = (nuint)segment.Length;
                offered += segment.Length;
                if (++count == MaxSendSegments)
                {
                    break;
                }
            }
            long sent = SendVectors(vectors, count);
            socketFull = sent < offered;
            return sent;
        }
        finally
        {
            for (int i = 0; i < count; i++)
            {
                handles[i].Dispose();
            }
        }
    }

    private unsafe long SendBytes(byte* data, int length)
    {
        long total = 0;
        while (total < length)
        {
            nint sent = Libc.Send(_fd, data + total, length - (nint)total, Libc.MSG_NOSIGNAL);
            if (sent >= 0)
            {
                total += sent;
                continue;
            }
            if (!ShouldRetrySend(Errno.Last))
            {
                break;
            }
        }
        return total;
    }

    private unsafe long SendVectors(IOVector* vectors, int count)
    {
        MessageHeader message = new() { IOVectors = vectors, IOVectorCount = (nuint)count };
        while (true)
        {
            nint sent = Libc.SendMsg(_fd, &message, Libc.MSG_NOSIGNAL);
            if (sent >= 0)
            {
                return sent;
            }
            if (!ShouldRetrySend(Errno.Last))
            {
                return 0;
            }
        }
    }

    /// <summary>True for EINTR; false for EAGAIN (wait for EPOLLOUT); throws for real errors.</summary>
    private static bool ShouldRetrySend(int errno) => errno switch
    {
        Errno.EINTR => true,
        Errno.EAGAIN => false,
        _ => throw Errno.ToException(errno),
    };

    private void StopReceiving()
    {
        _stopReceiving = true;
        _readable.Set();
        _input.Writer.CancelPendingFlush();
    }

    private void StopSending()
    {
        _output.Reader.CancelPendingRead();
        _writable.Set();
    }

    private void StopBothDirections()
    {
        StopSending();
        StopReceiving();
    }

    private void CloseSocket()
    {
        _loop.Unregister(_registration);
        if (_abortReason is not null)
        {
            Libc.SetLingerZero(_fd);
        }
        Libc.Close(_fd);
        _fd = -1;
        FireConnectionClosed();
    }

    private void FireConnectionClosed()
    {
        if (Interlocked.Exchange(ref _closedFired, 1) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static connection => connection.CancelConnectionClosed(), this, preferLocal: false);
        }
    }

    private void CancelConnectionClosed()
    {
        try
        {
            _connectionClosedTokenSource.Cancel();
        }
        catch (Exception ex)
        {
            MNetTransportLog.ConnectionClosedCallbackFailed(_settings.Logger, ConnectionId, ex);
        }
    }

    private enum ReceiveStatus
    {
        Drained,
        MoreAvailable,
        EndOfStream,
    }

    [InlineArray(MaxSendSegments)]
    private struct SegmentHandles
    {
        private MemoryHandle _element;
    }
}
