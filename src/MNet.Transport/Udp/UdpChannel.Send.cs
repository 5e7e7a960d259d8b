using System.Net;
using System.Net.Sockets;
using MNet.Transport.Diagnostics;
using MNet.Transport.Native;

namespace MNet.Transport.Udp;

public sealed partial class UdpChannel
{
    private TaskCompletionSource? _writableWaiter;

    /// <summary>Sends <paramref name="datagram"/> to <paramref name="remoteEndPoint"/>; completes at once unless the socket's send buffer is full.</summary>
    /// <exception cref="SocketException">The datagram is too long (MessageSize), broadcast is not enabled, or another socket error.</exception>
    /// <exception cref="ObjectDisposedException">The channel is disposed.</exception>
    public ValueTask SendToAsync(ReadOnlyMemory<byte> datagram, IPEndPoint remoteEndPoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(remoteEndPoint);
        return SendCoreAsync(datagram, MatchFamily(remoteEndPoint), cancellationToken);
    }

    /// <summary>Sends <paramref name="datagram"/> to the peer set by <see cref="Connect"/>.</summary>
    /// <exception cref="InvalidOperationException">The channel is not connected.</exception>
    /// <exception cref="SocketException">The peer refused an earlier datagram (ICMP port unreachable), or another socket error.</exception>
    public ValueTask SendAsync(ReadOnlyMemory<byte> datagram, CancellationToken cancellationToken = default)
    {
        if (RemoteEndPoint is null)
        {
            throw new InvalidOperationException("SendAsync needs a connected channel: call Connect first, or use SendToAsync.");
        }
        return SendCoreAsync(datagram, null, cancellationToken);
    }

    /// <summary>
    /// Sends every datagram of <paramref name="batch"/> with as few sendmmsg calls as the socket allows (one, unless
    /// its send buffer fills), then clears the batch. A datagram the kernel refuses (too long, unreachable) is
    /// skipped so the rest still go, and the first such error is thrown once they have.
    /// </summary>
    /// <exception cref="SocketException">A datagram was refused; the others were sent.</exception>
    /// <exception cref="OperationCanceledException">Canceled while waiting for room; the datagrams not sent yet are dropped.</exception>
    /// <exception cref="ObjectDisposedException">The channel is disposed.</exception>
    public ValueTask SendBatchAsync(DatagramSendBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (cancellationToken.IsCancellationRequested)
        {
            batch.Clear();
            return ValueTask.FromCanceled(cancellationToken);
        }

        Task writable;
        lock (_lock)
        {
            ThrowIfDisposed();
            if (LocalEndPoint.AddressFamily == AddressFamily.InterNetworkV6)
            {
                batch.MapIPv4ToIPv6();
            }
            if (TrySendBatchLocked(batch, out int failure))
            {
                return failure == 0 ? default : ValueTask.FromException(Errno.ToSocketException(failure));
            }
            writable = WaitWritableLocked();
        }
        return SendBatchWhenWritableAsync(batch, writable, cancellationToken);
    }

    private ValueTask SendCoreAsync(ReadOnlyMemory<byte> datagram, IPEndPoint? remoteEndPoint, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        Task writable;
        lock (_lock)
        {
            ThrowIfDisposed();
            if (TrySendLocked(datagram.Span, remoteEndPoint, out int errno))
            {
                return default;
            }
            if (errno != Errno.EAGAIN)
            {
                return ValueTask.FromException(Errno.ToSocketException(errno, remoteEndPoint?.ToString()));
            }
            writable = WaitWritableLocked();
        }
        return SendWhenWritableAsync(datagram, remoteEndPoint, writable, cancellationToken);
    }

    private async ValueTask SendWhenWritableAsync(ReadOnlyMemory<byte> datagram, IPEndPoint? remoteEndPoint, Task writable, CancellationToken cancellationToken)
    {
        while (true)
        {
            await writable.WaitAsync(cancellationToken).ConfigureAwait(false);
            lock (_lock)
            {
                ThrowIfDisposed();
                if (TrySendLocked(datagram.Span, remoteEndPoint, out int errno))
                {
                    return;
                }
                if (errno != Errno.EAGAIN)
                {
                    throw Errno.ToSocketException(errno, remoteEndPoint?.ToString());
                }
                writable = WaitWritableLocked();
            }
        }
    }

    private async ValueTask SendBatchWhenWritableAsync(DatagramSendBatch batch, Task writable, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await writable.WaitAsync(cancellationToken).ConfigureAwait(false);
                lock (_lock)
                {
                    ThrowIfDisposed();
                    if (TrySendBatchLocked(batch, out int failure))
                    {
                        if (failure != 0)
                        {
                            throw Errno.ToSocketException(failure);
                        }
                        return;
                    }
                    writable = WaitWritableLocked();
                }
            }
        }
        finally
        {
            batch.Clear();
        }
    }

    private unsafe bool TrySendLocked(ReadOnlySpan<byte> datagram, IPEndPoint? remoteEndPoint, out int errno)
    {
        Span<byte> address = stackalloc byte[SockAddr.MaxIPSize];
        int addressLength = remoteEndPoint is null ? 0 : SockAddr.WriteIP(remoteEndPoint, address);
        fixed (byte* data = datagram)
        fixed (byte* name = address)
        {
            IOVector vector = new() { Base = data, Length = (nuint)datagram.Length };
            MessageHeader message = new()
            {
                Name = addressLength == 0 ? null : name,
                NameLength = addressLength,
                IOVectors = &vector,
                IOVectorCount = 1,
            };
            while (Libc.SendMsg(_fd, &message, Libc.MSG_NOSIGNAL) < 0)
            {
                errno = Errno.Last;
                if (errno != Errno.EINTR)
                {
                    return false;
                }
            }
        }

        errno = 0;
        MNetMetrics.DatagramsSent.Add(1);
        return true;
    }

    /// <summary>
    /// Sends what is left of <paramref name="batch"/>: true once none is left (<paramref name="failure"/> is the errno
    /// of the first datagram refused, or 0), false when the socket is full.
    /// </summary>
    private bool TrySendBatchLocked(DatagramSendBatch batch, out int failure)
    {
        failure = 0;
        while (batch.Count > 0)
        {
            int sent = batch.Send(_fd);
            if (sent >= 0)
            {
                MNetMetrics.DatagramsSent.Add(sent);
                continue;
            }

            int errno = Errno.Last;
            if (errno == Errno.EAGAIN)
            {
                return false;
            }
            if (errno != Errno.EINTR)
            {
                failure = failure == 0 ? errno : failure;
                batch.SkipFirst();
            }
        }

        batch.Clear();
        return true;
    }

    private Task WaitWritableLocked()
    {
        Task writable = (_writableWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        ArmLocked(); // fails the wait (and any other) if the loop cannot be armed
        return writable;
    }

    private void OnWritable()
    {
        TaskCompletionSource? waiter;
        lock (_lock)
        {
            waiter = _writableWaiter;
            _writableWaiter = null;
        }
        waiter?.TrySetResult();
    }

    private void ReleaseSenders(Exception error)
    {
        TaskCompletionSource? waiter;
        lock (_lock)
        {
            waiter = _writableWaiter;
            _writableWaiter = null;
        }
        waiter?.TrySetException(error);
    }
}
