using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using MNet.Transport.Diagnostics;
using MNet.Transport.Loop;
using MNet.Transport.Udp;

namespace MNet.Transport.Dns;

/// <summary>
/// A UDP socket connected to one name server that carries many queries at once, told apart by their ids, as c-ares
/// does. It takes <see cref="QueriesPerSocket"/> queries, then retires: later queries go out from a new socket (a new
/// random port), and this one closes once its last query is answered or timed out. The query ids are drawn from the
/// system's random source when the socket opens.
/// </summary>
/// <remarks>
/// One receive loop reads every reply on the socket's event loop. A reply counts only when it comes from the server,
/// its id is one waiting, and <see cref="DnsReply.Parse"/> finds that query's question in it; anything else is dropped
/// and counted, and the query waits on. An ICMP error from the server fails every query waiting and retires the socket.
/// </remarks>
internal sealed class DnsUdpSocket : IDisposable
{
    internal const int QueriesPerSocket = 256;

    // Without EDNS a server sends at most 512 bytes over UDP; anything longer in a datagram is not a reply of ours.
    private const int MaxUdpReply = 4096;

    private readonly UdpChannel _channel;
    private readonly IPEndPoint _server;
    private readonly EventLoop _loop;
    private readonly Queue<PendingQuery> _unsent = new();
    private DatagramSendBatch? _batch;
    private bool _flushScheduled;
    private readonly Lock _lock = new();
    private readonly Dictionary<ushort, PendingQuery> _pending = [];
    private readonly ushort[] _ids = new ushort[QueriesPerSocket];
    private int _started;
    private bool _retired;

    private DnsUdpSocket(UdpChannel channel, IPEndPoint server, EventLoop loop)
    {
        _channel = channel;
        _server = server;
        _loop = loop;
        RandomNumberGenerator.Fill(MemoryMarshal.AsBytes(_ids.AsSpan()));
    }

    /// <summary>True once it takes no more queries.</summary>
    public bool IsRetired
    {
        get
        {
            lock (_lock)
            {
                return _retired;
            }
        }
    }

    /// <summary>Opens a socket on a random port of <paramref name="loop"/>, connected to <paramref name="server"/>.</summary>
    /// <exception cref="SocketException">The socket could not be opened or connected.</exception>
    public static DnsUdpSocket Open(IPEndPoint server, EventLoop loop)
    {
        IPAddress any = server.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any;
        // Replies are parsed and their queries completed on the loop that read them: short work that never blocks.
        UdpChannel channel = UdpChannel.Bind(new IPEndPoint(any, 0), null, loop, completeReceivesInline: true);
        try
        {
            channel.Connect(server);
        }
        catch
        {
            channel.Dispose();
            throw;
        }
        DnsUdpSocket socket = new(channel, server, loop);
        _ = socket.ReceiveRepliesAsync();
        return socket;
    }

    /// <summary>
    /// Sends a query for <paramref name="name"/> and <paramref name="type"/> and waits up to <paramref name="timeout"/>
    /// for its reply: null when none came. Null too, at once, when the socket retired first; the caller asks a new one.
    /// </summary>
    /// <exception cref="SocketException">The server's host refused the query (ICMP), or the send failed.</exception>
    public Task<DnsReply?>? TryExchangeAsync(string name, DnsRecordType type, TimeSpan timeout)
    {
        PendingQuery query;
        bool scheduleFlush;
        lock (_lock)
        {
            if (_retired)
            {
                return null;
            }
            ushort id = _ids[_started];
            while (_pending.ContainsKey(id))
            {
                id = (ushort)RandomNumberGenerator.GetInt32(0x10000);
            }
            query = new PendingQuery(this, id, name, type);
            _pending.Add(id, query);
            _retired = ++_started == QueriesPerSocket;
            _unsent.Enqueue(query);
            scheduleFlush = !_flushScheduled;
            _flushScheduled = true;
        }

        if (scheduleFlush)
        {
            _loop.Schedule(static state => ((DnsUdpSocket)state!).Flush(), this);
        }
        query.StartTimeout(_loop.TimeProvider, timeout);
        return query.Task;
    }

    /// <summary>Retires and closes the socket; the queries still waiting fail with <see cref="SocketError.OperationAborted"/>.</summary>
    public void Dispose() => FailAll(Aborted());

    /// <summary>
    /// Sends the queries made since the last flush with one sendmmsg (more when over <see cref="DatagramSendBatch.MaxDatagrams"/>).
    /// Runs on the loop after the work that made them, so an A and AAAA pair, and lookups started together, leave together.
    /// </summary>
    private void Flush()
    {
        DatagramSendBatch batch = _batch ??= new DatagramSendBatch(DatagramSendBatch.MaxDatagrams * DnsQueryWriter.MaxQuerySize);
        Span<byte> message = stackalloc byte[DnsQueryWriter.MaxQuerySize];
        while (true)
        {
            lock (_lock)
            {
                while (batch.Count < DatagramSendBatch.MaxDatagrams && _unsent.TryDequeue(out PendingQuery? query))
                {
                    if (!query.Task.IsCompleted) // not timed out or failed while it waited
                    {
                        batch.TryAdd(message[..DnsQueryWriter.Write(message, query.Id, query.Name, query.Type)]);
                    }
                }
                if (batch.Count == 0)
                {
                    _flushScheduled = false;
                    return;
                }
            }

            ValueTask sending;
            try
            {
                sending = _channel.SendBatchAsync(batch);
            }
            catch (ObjectDisposedException)
            {
                batch.Clear();
                FailAll(Aborted()); // the resolver or the loop stopped
                return;
            }
            if (!sending.IsCompleted)
            {
                _ = FlushWhenSentAsync(sending); // the send buffer is full: go on once there is room
                return;
            }
            if (!Sent(sending))
            {
                return;
            }
        }
    }

    private async Task FlushWhenSentAsync(ValueTask sending)
    {
        try
        {
            await sending.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            FailAll(ex as SocketException ?? Aborted());
            return;
        }
        _loop.Schedule(static state => ((DnsUdpSocket)state!).Flush(), this);
    }

    /// <summary>
    /// True when the batch went; false when it failed, which fails every query: an ICMP error or a lost route
    /// concerns them all.
    /// </summary>
    private bool Sent(ValueTask sending)
    {
        try
        {
            sending.GetAwaiter().GetResult(); // completed: this only takes the outcome
            return true;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            FailAll(ex as SocketException ?? Aborted());
            return false;
        }
    }

    private async Task ReceiveRepliesAsync()
    {
        byte[] buffer = new byte[MaxUdpReply];
        while (true)
        {
            DatagramReceiveResult received;
            try
            {
                received = await _channel.ReceiveAsync(buffer).ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                FailAll(Aborted()); // closed: idle after retiring, or the resolver or the loop stopped
                return;
            }
            catch (SocketException ex)
            {
                FailAll(ex);
                return;
            }
            OnDatagram(buffer.AsSpan(0, received.ReceivedBytes), received);
        }
    }

    private void OnDatagram(ReadOnlySpan<byte> datagram, DatagramReceiveResult received)
    {
        if (!received.RemoteEndPoint.Equals(_server))
        {
            CountDropped("mismatched");
            return;
        }
        if (received.IsTruncated || datagram.Length < 2)
        {
            CountDropped("malformed");
            return;
        }

        PendingQuery? query;
        lock (_lock)
        {
            _pending.TryGetValue(BinaryPrimitives.ReadUInt16BigEndian(datagram), out query);
        }
        if (query is null)
        {
            CountDropped("mismatched");
            return;
        }

        DnsReply? reply;
        try
        {
            reply = DnsReply.Parse(datagram, query.Id, query.Name, query.Type);
        }
        catch (DnsFormatException)
        {
            CountDropped("malformed");
            return;
        }
        if (reply is null)
        {
            CountDropped("mismatched");
            return;
        }
        Finish(query, reply, null);
    }

    /// <summary>Fails every query waiting, after an error the socket cannot pin on one of them, and retires the socket.</summary>
    private void FailAll(SocketException error)
    {
        PendingQuery[] waiting;
        lock (_lock)
        {
            _retired = true;
            waiting = [.. _pending.Values];
            _pending.Clear();
        }
        foreach (PendingQuery query in waiting)
        {
            query.Complete(null, error);
        }
        _channel.Dispose();
    }

    /// <summary>Completes <paramref name="query"/> unless something else did first; closes a retired socket left idle.</summary>
    private void Finish(PendingQuery query, DnsReply? reply, Exception? error)
    {
        bool close;
        lock (_lock)
        {
            if (!_pending.TryGetValue(query.Id, out PendingQuery? current) || current != query)
            {
                return;
            }
            _pending.Remove(query.Id);
            close = _retired && _pending.Count == 0;
        }
        query.Complete(reply, error);
        if (close)
        {
            _channel.Dispose();
        }
    }

    private static SocketException Aborted() => new((int)SocketError.OperationAborted, "The resolver or its event loop stopped.");

    internal static void CountDropped(string reason) => MNetMetrics.DnsRepliesDropped.Add(1, new KeyValuePair<string, object?>("reason", reason));

    /// <summary>A query waiting for its reply, its timeout, or the socket's failure, whichever comes first.</summary>
    private sealed class PendingQuery(DnsUdpSocket socket, ushort id, string name, DnsRecordType type)
        : TaskCompletionSource<DnsReply?>
    {
        private ITimer? _timeout;

        public ushort Id { get; } = id;

        public string Name { get; } = name;

        public DnsRecordType Type { get; } = type;

        public void StartTimeout(TimeProvider timeProvider, TimeSpan timeout)
        {
            ITimer timer = timeProvider.CreateTimer(static state => ((PendingQuery)state!).TimedOut(), this, timeout, Timeout.InfiniteTimeSpan);
            Interlocked.Exchange(ref _timeout, timer);
            if (Task.IsCompleted)
            {
                timer.Dispose(); // completed while the timer was made; Complete may have missed it
            }
        }

        public void Complete(DnsReply? reply, Exception? error)
        {
            if (error is null)
            {
                TrySetResult(reply);
            }
            else
            {
                TrySetException(error);
            }
            Volatile.Read(ref _timeout)?.Dispose();
        }

        private void TimedOut() => socket.Finish(this, null, null);
    }
}
