using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using MNet.Transport.Diagnostics;
using MNet.Transport.Loop;
using Microsoft.Extensions.Logging;

namespace MNet.Transport.Udp;

/// <summary>
/// Serves a datagram handler on a <see cref="UdpChannel"/>: one task receives and queues, another runs the handler
/// over the queue and sends its replies in batches. The queue is bounded: when the handler falls behind, new
/// datagrams are dropped and counted, so a flood costs CPU but never memory.
/// </summary>
internal sealed class UdpListener
{
    private const int ReceiveBufferSize = 64 * 1024; // the largest datagram fits whole

    private readonly UdpChannel _channel;
    private readonly Func<UdpDatagram, ValueTask> _handler;
    private readonly ILogger _logger;
    private readonly Channel<QueuedDatagram> _queue;
    private readonly DatagramSendBatch _replies = new();
    private volatile bool _stopping;
    private readonly Task _receiving;
    private readonly Task _handling;
    private long _dropped;

    public UdpListener(IPEndPoint endPoint, Func<UdpDatagram, ValueTask> handler, UdpListenOptions options, EventLoop loop, ILogger logger)
    {
        _channel = UdpChannel.Bind(endPoint, options.Channel, loop);
        _handler = handler;
        _logger = logger;
        _queue = Channel.CreateBounded<QueuedDatagram>(new BoundedChannelOptions(options.QueueCapacity)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then refuses, and the receiver drops and counts
        });
        _receiving = Task.Run(ReceiveAsync);
        _handling = Task.Run(HandleAsync);
    }

    public IPEndPoint EndPoint => _channel.LocalEndPoint;

    /// <summary>Datagrams dropped because the handler's queue was full.</summary>
    public long DroppedDatagrams => Interlocked.Read(ref _dropped);

    /// <summary>Datagrams received and waiting for the handler.</summary>
    public int QueuedDatagrams => _queue.Reader.Count;

    /// <summary>
    /// Stops receiving and drops what is still queued; waits for the datagram the handler is on until
    /// <paramref name="cancellationToken"/> is canceled (a handler cannot be aborted, only left behind).
    /// </summary>
    /// <returns>False when the handler was still running at cancellation.</returns>
    public async Task<bool> StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        _channel.Dispose(); // fails the pending receive and any send waiting for room
        await _receiving.ConfigureAwait(false);
        try
        {
            await _handling.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        while (_queue.Reader.TryRead(out QueuedDatagram left))
        {
            ArrayPool<byte>.Shared.Return(left.Buffer);
        }
        return true;
    }

    internal async ValueTask ReplyAsync(ReadOnlyMemory<byte> reply, IPEndPoint remoteEndPoint)
    {
        if (_replies.TryAdd(reply.Span, remoteEndPoint))
        {
            return;
        }
        await _channel.SendBatchAsync(_replies, CancellationToken.None).ConfigureAwait(false);
        if (!_replies.TryAdd(reply.Span, remoteEndPoint))
        {
            await _channel.SendToAsync(reply, remoteEndPoint).ConfigureAwait(false); // longer than a batch holds
        }
    }

    private async Task ReceiveAsync()
    {
        byte[] buffer = GC.AllocateUninitializedArray<byte>(ReceiveBufferSize);
        try
        {
            while (true)
            {
                DatagramReceiveResult received;
                try
                {
                    received = await _channel.ReceiveAsync(buffer).ConfigureAwait(false);
                }
                catch (SocketException ex)
                {
                    MNetServerLog.DatagramReceiveFailed(_logger, EndPoint, ex);
                    continue;
                }

                byte[] copy = ArrayPool<byte>.Shared.Rent(received.ReceivedBytes);
                buffer.AsSpan(0, received.ReceivedBytes).CopyTo(copy);
                if (!_queue.Writer.TryWrite(new QueuedDatagram(copy, received.ReceivedBytes, received.RemoteEndPoint)))
                {
                    ArrayPool<byte>.Shared.Return(copy);
                    Interlocked.Increment(ref _dropped);
                    MNetMetrics.DatagramsDropped.Add(1);
                }
            }
        }
        catch (ObjectDisposedException) when (_stopping)
        {
            // stopping
        }
        finally
        {
            _queue.Writer.TryComplete();
        }
    }

    private async Task HandleAsync()
    {
        ChannelReader<QueuedDatagram> reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (!_stopping && reader.TryRead(out QueuedDatagram datagram))
            {
                try
                {
                    await _handler(new UdpDatagram(datagram.Buffer.AsMemory(0, datagram.Length), datagram.RemoteEndPoint, this)).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    if (!_stopping)
                    {
                        MNetServerLog.DatagramHandlerFailed(_logger, EndPoint, datagram.RemoteEndPoint, ex);
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(datagram.Buffer);
                }
            }

            if (_stopping)
            {
                return;
            }
            await FlushRepliesAsync().ConfigureAwait(false);
        }
    }

    private async ValueTask FlushRepliesAsync()
    {
        try
        {
            await _channel.SendBatchAsync(_replies, CancellationToken.None).ConfigureAwait(false);
        }
        catch (SocketException ex)
        {
            MNetServerLog.DatagramReplyFailed(_logger, EndPoint, ex);
        }
        catch (ObjectDisposedException) when (_stopping)
        {
            // stopping: unsent replies go with the socket
        }
    }
}
