using System.Net;
using System.Net.Sockets;
using MNet.Transport.Diagnostics;
using MNet.Transport.Native;

namespace MNet.Transport.Udp;

internal sealed partial class EpollUdpChannel
{
    private static bool? s_kernelSegmentsDatagrams;
    private TaskCompletionSource? _writableWaiter;

    // Whether batches go out with runs of equal datagrams as segments of one message (UDP_SEGMENT, Linux 4.18):
    // off where the kernel lacks it, and from the first time the route refuses it.
    private bool _segmentsBatches;

    /// <summary>Whether the next batch sends runs of equal datagrams as segments of one message.</summary>
    internal bool SegmentsBatches => Volatile.Read(ref _segmentsBatches);

    private protected override ValueTask SendBatchCoreAsync(DatagramSendBatch batch, CancellationToken cancellationToken)
    {
        Task writable;
        lock (_lock)
        {
            ThrowIfDisposed();
            if (IsIPv6)
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

    private protected override ValueTask SendCoreAsync(ReadOnlyMemory<byte> datagram, IPEndPoint? remoteEndPoint, CancellationToken cancellationToken)
    {
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
            int sent = batch.Send(_fd, _segmentsBatches, out bool firstSegmented);
            if (sent < 0 && firstSegmented && Errno.Last is Errno.EIO or Errno.EINVAL or Errno.EMSGSIZE)
            {
                // Refused as segments. If the datagrams go one by one, the route cannot segment (no checksum offload,
                // no checksums on the socket, an MTU under the segment size): stop asking. If not, the error is the
                // datagrams' own and is handled as any other.
                sent = batch.Send(_fd, segment: false, out _);
                _segmentsBatches &= sent < 0;
            }
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
                batch.RemoveFirst();
            }
        }

        batch.Clear();
        return true;
    }

    /// <summary>
    /// Whether the kernel knows UDP_SEGMENT; one that does not would ignore the option and send the run as one datagram.
    /// Asked on the first channel's socket: the kernel does not change while the process runs.
    /// </summary>
    private static bool KernelSegmentsDatagrams(int fd) => s_kernelSegmentsDatagrams ??= ProbeSegmentation(fd);

    private static unsafe bool ProbeSegmentation(int fd)
    {
        int segmentLength = 0;
        int length = sizeof(int);
        return Libc.GetSockOpt(fd, Libc.SOL_UDP, Libc.UDP_SEGMENT, &segmentLength, &length) == 0;
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
