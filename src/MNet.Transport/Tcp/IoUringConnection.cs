using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using MNet.Transport.Loop;
using MNet.Transport.Native;
using Microsoft.AspNetCore.Connections;

namespace MNet.Transport.Tcp;

/// <summary>
/// The io_uring backend's connection. One multishot receive stays armed on the socket and fills buffers the loop
/// lends the kernel (<see cref="ProvidedBufferRing"/>); each completion's bytes are copied into the input pipe and
/// the buffer goes straight back, so a quiet connection holds no buffer. Sends are submitted to the ring and leave
/// with the loop's next wait, together with every other connection's; a buffer of many segments goes as a chain of
/// linked sends. Everything runs on the loop thread.
/// </summary>
internal sealed partial class IoUringConnection : TcpConnection, ICompletionHandler
{
    private const byte ReceiveOperation = 1;
    private const byte SendOperation = 2;
    private const byte ConnectOperation = 3;
    private const byte SendCancelOperation = 4;

    private readonly IoUringPoller _ring;
    private readonly ReadinessSignal _received = new();
    private readonly ReadinessSignal _sent = new();
    // What arrived while a flush was pending (the pipe's writer is busy until it completes), copied out so the
    // provided buffers go straight back to the kernel: a stalled reader must not starve the loop's other connections.
    private byte[]? _held;
    private int _heldLength;
    private int _fd;
    private int _fileSlot = -1; // the socket's slot in the ring's registered files, if it got one
    private ulong _id;
    private bool _hasId;
    private ulong _registration;
    private bool _receiveArmed;
    private bool _receiveCancelling;
    private bool _rearmScheduled;
    private bool _flushPending;
    private bool _stopReceiving;
    private bool _peerFinished;
    private int _receiveErrno;
    private int _unflushed;
    private int _sendsInFlight;
    private int _sentBytes;
    private int _sendError;
    private int _connectResult;
    // What the kernel reads from while sends are in flight: the pinned segment, or for a send of several segments a
    // gather list lent by the loop's pool.
    private MemoryHandle _pin;
    private SendGatherList? _gather;

    public IoUringConnection(int fd, TcpConnectionSettings settings, EndPoint? localEndPoint, EndPoint? remoteEndPoint)
        : base(settings, localEndPoint, remoteEndPoint)
    {
        _fd = fd;
        _ring = settings.Loop.IoUring;
    }

    public override void Start()
    {
        bool tracked = false;
        try
        {
            _registration = Loop.Track(this);
            tracked = true;
            if (!_hasId)
            {
                _id = _ring.Register(this); // a client connection has one since its connect
                _hasId = true;
            }
            _fileSlot = _ring.RegisterFile(_fd);
            ArmReceive();
        }
        catch (Exception ex)
        {
            // The loop has exited, or its ring refuses submissions: nothing was submitted for this socket but the
            // slot's update, which the ring's own close undoes.
            if (tracked)
            {
                Loop.Unregister(_registration);
            }
            if (_hasId)
            {
                _ring.Unregister(_id);
            }
            _ring.UnregisterFile(_fileSlot);
            _fileSlot = -1;
            Libc.Close(_fd);
            _fd = -1;
            FailStart(ex);
            return;
        }
        _ = RunAsync();
    }

    void ICompletionHandler.OnCompletion(byte operation, int result, uint flags)
    {
        switch (operation)
        {
            case ReceiveOperation:
                OnReceived(result, flags);
                break;
            case SendOperation:
                OnSent(result);
                break;
            case SendCancelOperation when result == -Errno.ENOENT && _sendsInFlight > 0:
                // The send in flight is a link the kernel has not started yet (the one before it just completed):
                // cancel again once it has, or a peer that does not read would hold it forever.
                Loop.Schedule(static state => ((IoUringConnection)state!).CancelSends(), this);
                break;
            case ConnectOperation:
                _connectResult = result;
                _sent.Set(); // sending starts only after the connect
                break;
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
                await _received.WaitAsync().ConfigureAwait(false);
                if (_stopReceiving)
                {
                    break;
                }
                if (_unflushed > 0)
                {
                    _unflushed = 0;
                    ValueTask<FlushResult> flushing = writer.FlushAsync();
                    if (!flushing.IsCompleted)
                    {
                        // The application is behind: cancel the multishot receive, so the socket's own buffer, not
                        // ours, holds what the peer sends and its window closes. What lands meanwhile is held.
                        _flushPending = true;
                        CancelReceive();
                    }
                    FlushResult flush = await flushing.ConfigureAwait(false);
                    if (_flushPending)
                    {
                        ResumeAfterFlush();
                    }
                    if (flush.IsCompleted || flush.IsCanceled || _stopReceiving)
                    {
                        break;
                    }
                    if (_unflushed > 0)
                    {
                        _received.Set(); // what was held during the flush is in the pipe now: flush it too
                        continue;
                    }
                }
                if (_peerFinished || _receiveErrno != 0)
                {
                    if (_receiveErrno != 0)
                    {
                        throw Errno.ToException(_receiveErrno);
                    }
                    break; // FIN, after every byte before it
                }
            }
        }
        catch (Exception ex)
        {
            error = ex;
        }

        await EndReceivingAsync().ConfigureAwait(false);
        CompleteInput(error);
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
                    // Awaited here, not in a helper: this method's state machine is made once per connection, a
                    // helper's would be made per send.
                    try
                    {
                        SubmitSends(buffer, flags);
                        await _sent.WaitAsync().ConfigureAwait(false);
                    }
                    finally
                    {
                        Unpin(); // the kernel has let go of the memory
                    }
                    (int sent, int failure) = (_sentBytes, _sendError);
                    (_sentBytes, _sendError) = (0, 0);
                    // EAGAIN: a send that stalls after a partial one is retried on a kernel worker thread, where this
                    // non-blocking socket says EAGAIN (seen on Unix sockets under load). ECANCELED: a link before it
                    // ended short that way, or the connection is stopping (below). Either way, what is left is
                    // submitted afresh and waits for room again.
                    if (failure is not (0 or -Errno.EAGAIN or -Errno.ECANCELED))
                    {
                        throw Errno.ToException(-failure);
                    }
                    if (sent > 0)
                    {
                        MarkActive();
                    }
                    buffer = buffer.Slice(sent);
                    if (AbortReason is not null || TransportError is not null)
                    {
                        break; // stopped: aborted, or the receive side failed
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

    protected override void StopReceiving()
    {
        _stopReceiving = true;
        CancelReceive();
        _received.Set();
        Input.Writer.CancelPendingFlush();
    }

    protected override void StopSending()
    {
        Output.Reader.CancelPendingRead();
        CancelSends();
    }

    private void CancelSends()
    {
        if (_sendsInFlight > 0 && _fd >= 0)
        {
            _ring.Cancel(_id, SendOperation, reportAs: SendCancelOperation); // a peer that does not read would hold it forever
        }
    }

    protected override void OnAborted()
    {
        StopSending();
        StopReceiving();
    }

    protected override void CloseSocket()
    {
        _ring.Unregister(_id);
        _ring.UnregisterFile(_fileSlot);
        _fileSlot = -1;
        Loop.Unregister(_registration);
        ReleaseHeld();
        if (AbortReason is not null)
        {
            Libc.SetLingerZero(_fd);
        }
        Libc.Close(_fd);
        _fd = -1;
    }

    private unsafe void ArmReceive()
    {
        IoUringSqe* sqe = _ring.GetSqe(_id, ReceiveOperation);
        sqe->Opcode = IoUring.OP_RECV;
        sqe->IoPriority = IoUring.RECV_MULTISHOT;
        sqe->Flags = IoUring.SQE_BUFFER_SELECT;
        IoUringPoller.SetFile(sqe, _fd, _fileSlot);
        sqe->BufferGroup = ProvidedBufferRing.Group;
        _receiveArmed = true;
    }

    private void CancelReceive()
    {
        if (_receiveArmed && !_receiveCancelling)
        {
            _receiveCancelling = true;
            _ring.Cancel(_id, ReceiveOperation);
        }
    }

    /// <summary>Whether the multishot receive should be armed: nothing stops it, and the application keeps up.</summary>
    private bool WantsReceive => !_flushPending && !_stopReceiving && !_peerFinished && _receiveErrno == 0 && _fd >= 0;

    private void OnReceived(int result, uint flags)
    {
        bool cancelling = _receiveCancelling;
        if ((flags & IoUring.CQE_F_MORE) == 0)
        {
            _receiveArmed = false;
            _receiveCancelling = false;
        }
        if (result > 0)
        {
            ushort buffer = (ushort)(flags >> IoUring.CQE_BUFFER_SHIFT);
            if (!_stopReceiving)
            {
                ReadOnlySpan<byte> data = _ring.Buffers.Contents(buffer, result);
                if (_flushPending)
                {
                    Hold(data);
                }
                else
                {
                    CopyToPipe(data);
                }
            }
            _ring.Buffers.Return(buffer);
            MarkActive();
        }
        else if (result == 0 && !cancelling)
        {
            _peerFinished = true;
        }
        // A multishot receive that a cancel ends may end with 0 rather than -ECANCELED: that 0 is not trusted as FIN
        // (a real one reads as 0 again once the receive is re-armed). EAGAIN, like ENOBUFS, only ends the multishot.
        else if (result is not (-Errno.ECANCELED or -Errno.ENOBUFS or -Errno.EAGAIN))
        {
            _receiveErrno = -result;
        }

        if (!_receiveArmed && WantsReceive && !_rearmScheduled)
        {
            // The kernel ended the multishot (out of buffers, a cancel for a flush that is over, an overflowing
            // completion queue): ask again once this pass of completions has given its buffers back.
            _rearmScheduled = true;
            Loop.Schedule(static state => ((IoUringConnection)state!).Rearm(), this);
        }
        _received.Set();
    }

    private void Rearm()
    {
        _rearmScheduled = false;
        if (!_receiveArmed && WantsReceive)
        {
            ArmReceive();
        }
    }

    private void CopyToPipe(ReadOnlySpan<byte> data)
    {
        _unflushed += data.Length;
        PipeWriter writer = Input.Writer;
        while (!data.IsEmpty)
        {
            Span<byte> memory = writer.GetSpan();
            int count = Math.Min(memory.Length, data.Length);
            data[..count].CopyTo(memory);
            writer.Advance(count);
            data = data[count..];
        }
    }

    private void Hold(ReadOnlySpan<byte> data)
    {
        if (_held is null || _held.Length - _heldLength < data.Length)
        {
            byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Max(2 * (_heldLength + data.Length), _ring.Buffers.BufferSize));
            if (_held is not null)
            {
                _held.AsSpan(0, _heldLength).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_held);
            }
            _held = larger;
        }
        data.CopyTo(_held.AsSpan(_heldLength));
        _heldLength += data.Length;
    }

    private void ReleaseHeld()
    {
        if (_held is not null)
        {
            ArrayPool<byte>.Shared.Return(_held);
            _held = null;
            _heldLength = 0;
        }
    }

    /// <summary>The application caught up: what was held goes into the pipe, and the receive is armed again.</summary>
    private void ResumeAfterFlush()
    {
        _flushPending = false;
        if (_heldLength > 0)
        {
            CopyToPipe(_held.AsSpan(0, _heldLength));
            ReleaseHeld();
        }
        if (!_receiveArmed && WantsReceive && !_rearmScheduled)
        {
            ArmReceive(); // else the cancel is still on its way, and its completion re-arms
        }
    }

    /// <summary>Waits until the kernel holds no receive of this socket: its buffers and this object must outlive it.</summary>
    private async ValueTask EndReceivingAsync()
    {
        _stopReceiving = true;
        CancelReceive();
        while (_receiveArmed)
        {
            await _received.WaitAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Submits sends of <paramref name="buffer"/>: one per <see cref="SendGatherList.MaxSegments"/> segments, at most
    /// <see cref="SendGatherList.MaxSends"/>, linked so the kernel runs them in order. Each waits for all its bytes
    /// (MSG_WAITALL, which the kernel retries on a stream socket), so a chain breaks only where a send fails or ends
    /// short, and the sends after that one complete as cancelled.
    /// </summary>
    private unsafe void SubmitSends(in ReadOnlySequence<byte> buffer, int flags)
    {
        if (buffer.IsSingleSegment)
        {
            _pin = buffer.First.Pin();
            IoUringSqe* sqe = _ring.GetSqe(_id, SendOperation);
            sqe->Opcode = IoUring.OP_SEND;
            sqe->Address = (ulong)_pin.Pointer;
            sqe->Length = (uint)buffer.First.Length;
            PrepareSend(sqe, flags);
            _sendsInFlight = 1;
            return;
        }

        SendGatherList gather = _gather = Settings.GatherLists.Rent();
        int sends = gather.Gather(buffer); // pins every segment before anything is queued: a failure leaves nothing behind
        _ring.EnsureFreeSqes(sends);
        IoUringSqe* last = null;
        for (int send = 0; send < sends; send++)
        {
            last = _ring.GetSqe(_id, SendOperation);
            last->Opcode = IoUring.OP_SENDMSG;
            last->Address = (ulong)gather.Message(send);
            last->Flags = IoUring.SQE_IO_LINK;
            PrepareSend(last, flags);
            _sendsInFlight++;
        }
        last->Flags &= unchecked((byte)~IoUring.SQE_IO_LINK); // the chain ends here
    }

    private unsafe void PrepareSend(IoUringSqe* sqe, int flags)
    {
        IoUringPoller.SetFile(sqe, _fd, _fileSlot);
        sqe->OperationFlags = (uint)(flags | Libc.MSG_WAITALL);
    }

    /// <summary>One send of the chain completed: its bytes count, and a real failure wins over a cancel or EAGAIN.</summary>
    private void OnSent(int result)
    {
        if (result > 0)
        {
            _sentBytes += result;
        }
        else if (result < 0 && _sendError is 0 or -Errno.ECANCELED or -Errno.EAGAIN)
        {
            _sendError = result;
        }
        if (--_sendsInFlight == 0)
        {
            _sent.Set();
        }
    }

    private void Unpin()
    {
        _pin.Dispose();
        _pin = default;
        if (_gather is not null)
        {
            _gather.Unpin();
            Settings.GatherLists.Return(_gather);
            _gather = null;
        }
    }
}
