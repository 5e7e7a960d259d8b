using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Runtime.CompilerServices;
using MNet.Transport.Loop;
using MNet.Transport.Native;
using Microsoft.AspNetCore.Connections;

namespace MNet.Transport.Tcp;

/// <summary>
/// The epoll backend's connection: a nonblocking socket registered edge-triggered with its loop, whose receive and
/// send loops run on that loop's thread; readiness resumes them inline, pipe continuations are scheduled onto it.
/// </summary>
internal sealed partial class EpollConnection : TcpConnection, IPollHandler
{
    // Bytes read in one pass before the loop yields to other connections.
    private const int MaxBytesPerReceivePass = 256 * 1024;
    // After a read fills its buffer (a bulk transfer), later reads in the pass ask the pipe for this much at once.
    // That is more than a pool block, so the pipe takes it from ArrayPool: unpinned, which is fine because recv is
    // synchronous and pins for the call; one syscall then moves what took sixteen.
    private const int BulkReceiveSize = 64 * 1024;
    private const int MaxSendSegments = 64;

    private readonly ReadinessSignal _readable = new();
    private readonly ReadinessSignal _writable = new();
    private int _fd;
    private ulong _registration;
    private bool _peerClosed;
    private bool _stopReceiving;
    private bool _bulkReceive;

    public EpollConnection(int fd, TcpConnectionSettings settings, EndPoint? localEndPoint, EndPoint? remoteEndPoint)
        : base(settings, localEndPoint, remoteEndPoint)
    {
        _fd = fd;
    }

    public override void Start()
    {
        try
        {
            _registration = Loop.Register(_fd, this);
        }
        catch (Exception ex)
        {
            Libc.Close(_fd);
            _fd = -1;
            FailStart(ex);
            return;
        }

        _ = RunAsync();
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

    protected override async Task ReceiveAsync()
    {
        PipeWriter writer = Input.Writer;
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
                    Loop.Schedule(static state => ((EpollConnection)state!)._readable.Set(), this);
                }
            }
        }
        catch (Exception ex)
        {
            error = ex;
        }
        CompleteInput(error);
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
                _bulkReceive = total > Settings.MemoryPool.MaxBufferSize;
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

    protected override async Task SendAsync()
    {
        PipeReader reader = Output.Reader;
        Exception? error = null;
        try
        {
            while (true)
            {
                ReadResult result = await reader.ReadAsync().ConfigureAwait(false);
                if (ShouldStopSending(result))
                {
                    break;
                }

                ReadOnlySequence<byte> buffer = result.Buffer;
                int flags = SendFlags(result);
                while (!buffer.IsEmpty)
                {
                    long sent = SendAvailable(buffer, flags, out bool socketFull);
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
                    if (AbortReason is not null || TransportError is not null)
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
        catch (Exception ex)
        {
            error = ex;
        }
        CompleteOutput(error);
    }

    /// <summary>
    /// Writes as much of <paramref name="buffer"/> as the socket takes now (at most <see cref="MaxSendSegments"/>
    /// segments); <paramref name="socketFull"/> tells whether the kernel took less than it was offered, so that only
    /// an EPOLLOUT edge can make progress.
    /// </summary>
    private unsafe long SendAvailable(in ReadOnlySequence<byte> buffer, int flags, out bool socketFull)
    {
        if (buffer.IsSingleSegment)
        {
            ReadOnlySpan<byte> span = buffer.FirstSpan;
            fixed (byte* data = span)
            {
                long sent = SendBytes(data, span.Length, flags);
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
            long sent = SendVectors(vectors, count, flags);
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

    private unsafe long SendBytes(byte* data, int length, int flags)
    {
        long total = 0;
        while (total < length)
        {
            nint sent = Libc.Send(_fd, data + total, length - (nint)total, flags);
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

    private unsafe long SendVectors(IOVector* vectors, int count, int flags)
    {
        MessageHeader message = new() { IOVectors = vectors, IOVectorCount = (nuint)count };
        while (true)
        {
            nint sent = Libc.SendMsg(_fd, &message, flags);
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

    protected override void StopReceiving()
    {
        _stopReceiving = true;
        _readable.Set();
        Input.Writer.CancelPendingFlush();
    }

    protected override void StopSending()
    {
        Output.Reader.CancelPendingRead();
        _writable.Set();
    }

    protected override void OnAborted()
    {
        StopSending();
        StopReceiving();
    }

    protected override void CloseSocket()
    {
        if (AbortReason is not null)
        {
            Libc.SetLingerZero(_fd);
        }
        // The descriptor is the connection's alone (never duplicated), so closing it takes it out of epoll: no
        // EPOLL_CTL_DEL, a system call per connection less.
        Libc.Close(_fd);
        _fd = -1;
        Loop.ForgetClosed(_registration);
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
