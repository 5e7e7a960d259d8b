using System.Net;
using System.Net.Sockets;
using System.Threading.Tasks.Sources;
using MNet.Transport.Diagnostics;
using MNet.Transport.Native;

namespace MNet.Transport.Udp;

internal sealed partial class EpollUdpChannel
{
    private readonly ReceiveOperation _receiveOperation;
    private DatagramReceiveBatch? _batch;
    private bool _hasReceived;
    private bool _receivePending;
    private Memory<byte> _pendingBuffer;
    private CancellationToken _pendingToken;
    private CancellationTokenRegistration _pendingCancellation;
    private readonly byte[] _lastPeerAddress = new byte[SockAddr.MaxIPSize];
    private int _lastPeerAddressLength;
    private IPEndPoint? _lastPeer;

    private protected override ValueTask<DatagramReceiveResult> ReceiveCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        ValueTask<DatagramReceiveResult> pending;
        lock (_lock)
        {
            ThrowIfDisposed();
            if (_receivePending)
            {
                throw new InvalidOperationException("A receive is already pending on this channel; await it before starting another.");
            }
            if (TryReceiveLocked(buffer.Span, out DatagramReceiveResult result, out int errno))
            {
                return new ValueTask<DatagramReceiveResult>(result);
            }
            if (errno != Errno.EAGAIN)
            {
                return ValueTask.FromException<DatagramReceiveResult>(Errno.ToSocketException(errno));
            }

            _receivePending = true;
            _pendingBuffer = buffer;
            _pendingToken = cancellationToken;
            _receiveOperation.Reset();
            pending = _receiveOperation.Task;
            // Armed after the read found nothing: arming checks readiness, so a datagram arriving in between is
            // reported. If the loop cannot be armed, this fails the receive just set up.
            ArmLocked();
        }

        if (cancellationToken.CanBeCanceled)
        {
            CancellationTokenRegistration registration = cancellationToken.UnsafeRegister(
                static (state, token) => ((EpollUdpChannel)state!).CancelReceive(token), this);
            lock (_lock)
            {
                if (_receivePending && _pendingToken == cancellationToken)
                {
                    _pendingCancellation = registration;
                    registration = default;
                }
            }
            registration.Unregister(); // the receive completed (or was canceled) already
        }
        return pending;
    }

    private void OnReadable()
    {
        DatagramReceiveResult result;
        int errno;
        CancellationTokenRegistration cancellation;
        lock (_lock)
        {
            if (!_receivePending || IsDisposed)
            {
                return;
            }
            if (!TryReceiveLocked(_pendingBuffer.Span, out result, out errno) && errno == Errno.EAGAIN)
            {
                return; // nothing there after all (an error event already consumed); the receive stays armed
            }
            // Claimed under the same lock as the read, so a racing cancel or dispose cannot discard the datagram.
            cancellation = TakePendingLocked();
        }
        Complete(cancellation, result, errno == 0 ? null : Errno.ToSocketException(errno));
    }

    private void CancelReceive(CancellationToken token)
    {
        CancellationTokenRegistration cancellation;
        lock (_lock)
        {
            if (!_receivePending || _pendingToken != token)
            {
                return; // completed already, or a later receive with another token is pending
            }
            cancellation = TakePendingLocked();
        }
        Complete(cancellation, default, new OperationCanceledException(token));
    }

    /// <summary>
    /// Takes a datagram received ahead, or reads with recvmmsg. The first datagram is read with a plain recvmsg
    /// instead: a channel that receives one (a DNS query's) never builds the batch. Caller holds the lock.
    /// </summary>
    private bool TryReceiveLocked(Span<byte> buffer, out DatagramReceiveResult result, out int errno)
    {
        ReceivedDatagram datagram;
        Span<byte> sender = stackalloc byte[SockAddr.MaxIPSize];
        scoped ReadOnlySpan<byte> address;
        if (!_hasReceived)
        {
            if (!TryReceiveOne(_fd, buffer, sender, out datagram))
            {
                errno = Errno.Last;
                result = default;
                return false;
            }
            _hasReceived = true;
            address = sender[..datagram.AddressLength];
        }
        else
        {
            DatagramReceiveBatch batch = _batch ??= DatagramReceiveBatch.Rent();
            if (batch.HasAhead)
            {
                datagram = batch.TakeAhead(buffer);
            }
            else if (!batch.TryReceive(_fd, buffer, out datagram))
            {
                errno = Errno.Last;
                result = default;
                return false;
            }
            address = batch.AddressOf(datagram);
        }

        errno = 0;
        MNetMetrics.DatagramsReceived.Add(1);
        if (datagram.IsTruncated)
        {
            MNetMetrics.DatagramsTruncated.Add(1);
        }
        result = new DatagramReceiveResult(datagram.Length, PeerOf(address), datagram.IsTruncated);
        return true;
    }

    private static unsafe bool TryReceiveOne(int fd, Span<byte> buffer, Span<byte> sender, out ReceivedDatagram datagram)
    {
        fixed (byte* data = buffer)
        fixed (byte* name = sender)
        {
            IOVector vector = new() { Base = data, Length = (nuint)buffer.Length };
            MessageHeader header = new() { Name = name, NameLength = sender.Length, IOVectors = &vector, IOVectorCount = 1 };
            nint received = Libc.RecvMsg(fd, &header, 0);
            datagram = received < 0 ? default : new ReceivedDatagram(0, (int)received, (header.Flags & Libc.MSG_TRUNC) != 0, header.NameLength);
            return received >= 0;
        }
    }

    /// <summary>The sender as an <see cref="IPEndPoint"/>, reusing the last one when the same peer sends again.</summary>
    private IPEndPoint PeerOf(ReadOnlySpan<byte> address)
    {
        if (_lastPeer is not null && address.SequenceEqual(_lastPeerAddress.AsSpan(0, _lastPeerAddressLength)))
        {
            return _lastPeer;
        }
        IPEndPoint peer = SockAddr.ReadIP(address) ?? throw new SocketException((int)SocketError.AddressFamilyNotSupported);
        address.CopyTo(_lastPeerAddress);
        _lastPeerAddressLength = address.Length;
        _lastPeer = peer;
        return peer;
    }

    private void CompleteReceive(Exception error)
    {
        CancellationTokenRegistration cancellation;
        lock (_lock)
        {
            if (!_receivePending)
            {
                return;
            }
            cancellation = TakePendingLocked();
        }
        Complete(cancellation, default, error);
    }

    private CancellationTokenRegistration TakePendingLocked()
    {
        CancellationTokenRegistration cancellation = _pendingCancellation;
        _receivePending = false;
        _pendingBuffer = default;
        _pendingToken = default;
        _pendingCancellation = default;
        return cancellation;
    }

    private void Complete(CancellationTokenRegistration cancellation, DatagramReceiveResult result, Exception? error)
    {
        cancellation.Unregister();
        if (error is null)
        {
            _receiveOperation.SetResult(result);
        }
        else
        {
            _receiveOperation.SetException(error);
        }
    }

    /// <summary>The one reusable awaitable behind pending receives; unless made for inline use, continuations never run on the loop thread.</summary>
    private sealed class ReceiveOperation(bool runContinuationsAsynchronously) : IValueTaskSource<DatagramReceiveResult>
    {
        private ManualResetValueTaskSourceCore<DatagramReceiveResult> _core = new() { RunContinuationsAsynchronously = runContinuationsAsynchronously };

        public ValueTask<DatagramReceiveResult> Task => new(this, _core.Version);

        public void Reset() => _core.Reset();

        public void SetResult(DatagramReceiveResult result) => _core.SetResult(result);

        public void SetException(Exception error) => _core.SetException(error);

        public DatagramReceiveResult GetResult(short token) => _core.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
            => _core.OnCompleted(continuation, state, token, flags);
    }
}
