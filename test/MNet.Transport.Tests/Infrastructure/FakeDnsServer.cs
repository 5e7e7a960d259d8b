using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>
/// A DNS server on 127.0.0.1 (UDP and TCP on one port) built on plain sockets. It answers from <see cref="Zone"/>
/// unless a test replaces <see cref="UdpReplies"/> or <see cref="TcpReply"/> to stay silent, truncate, or send
/// something broken first.
/// </summary>
internal sealed class FakeDnsServer : IAsyncDisposable
{
    private readonly Socket _udp;
    private readonly Socket _tcp;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _serving;

    private FakeDnsServer(Socket udp, Socket tcp)
    {
        _udp = udp;
        _tcp = tcp;
        EndPoint = (IPEndPoint)udp.LocalEndPoint!;
        UdpReplies = query => [Zone.Answer(query)];
        TcpReply = Zone.Answer;
        _serving = Task.WhenAll(ServeUdpAsync(), ServeTcpAsync());
    }

    public IPEndPoint EndPoint { get; }

    public FakeDnsZone Zone { get; } = new();

    /// <summary>The datagrams sent back, in order, for a query over UDP; none leaves the query unanswered.</summary>
    public Func<FakeDnsQuery, IEnumerable<byte[]>> UdpReplies { get; set; }

    /// <summary>The message sent back for a query over TCP, or null to close the connection instead.</summary>
    public Func<FakeDnsQuery, byte[]?> TcpReply { get; set; }

    /// <summary>How long each reply waits before it is sent.</summary>
    public TimeSpan ReplyDelay { get; set; }

    public ConcurrentQueue<FakeDnsQuery> Queries { get; } = new();

    public int UdpQueryCount => Queries.Count(q => !q.OverTcp);

    public int TcpQueryCount => Queries.Count(q => q.OverTcp);

    /// <summary>Sends <paramref name="datagram"/> to <paramref name="destination"/> from a socket other than the server's.</summary>
    public static void SendFromElsewhere(byte[] datagram, IPEndPoint destination)
    {
        using Socket other = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        other.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        other.SendTo(datagram, destination);
    }

    public static FakeDnsServer Start()
    {
        for (int attempt = 0; ; attempt++)
        {
            Socket udp = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            Socket tcp = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                tcp.Bind(udp.LocalEndPoint!);
                tcp.Listen();
                return new FakeDnsServer(udp, tcp);
            }
            catch (SocketException) when (attempt < 20)
            {
                udp.Dispose();
                tcp.Dispose(); // the TCP port was taken; try another
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _udp.Dispose();
        _tcp.Dispose();
        try
        {
            await _serving;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        _stop.Dispose();
    }

    private async Task ServeUdpAsync()
    {
        byte[] buffer = new byte[65536];
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult received = await _udp.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
            FakeDnsQuery query = Read(buffer.AsSpan(0, received.ReceivedBytes), overTcp: false, (IPEndPoint)received.RemoteEndPoint);
            _ = ReplyOverUdpAsync(query);
        }
    }

    private async Task ReplyOverUdpAsync(FakeDnsQuery query)
    {
        try
        {
            foreach (byte[] reply in UdpReplies(query))
            {
                await Task.Delay(ReplyDelay, _stop.Token);
                await _udp.SendToAsync(reply, SocketFlags.None, query.From, _stop.Token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task ServeTcpAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket connection = await _tcp.AcceptAsync(_stop.Token);
            _ = ServeConnectionAsync(connection);
        }
    }

    private async Task ServeConnectionAsync(Socket connection)
    {
        using (connection)
        {
            try
            {
                byte[] prefix = new byte[2];
                while (await ReceiveExactlyAsync(connection, prefix))
                {
                    byte[] message = new byte[BinaryPrimitives.ReadUInt16BigEndian(prefix)];
                    if (!await ReceiveExactlyAsync(connection, message))
                    {
                        return;
                    }
                    FakeDnsQuery query = Read(message, overTcp: true, (IPEndPoint)connection.RemoteEndPoint!);
                    await Task.Delay(ReplyDelay, _stop.Token);
                    if (TcpReply(query) is not { } reply)
                    {
                        return;
                    }
                    byte[] framed = new byte[2 + reply.Length];
                    BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)reply.Length);
                    reply.CopyTo(framed, 2);
                    await connection.SendAsync(framed, SocketFlags.None, _stop.Token);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }
    }

    private async Task<bool> ReceiveExactlyAsync(Socket connection, byte[] buffer)
    {
        for (int received = 0; received < buffer.Length;)
        {
            int count = await connection.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None, _stop.Token);
            if (count == 0)
            {
                return false;
            }
            received += count;
        }
        return true;
    }

    private FakeDnsQuery Read(ReadOnlySpan<byte> message, bool overTcp, IPEndPoint from)
    {
        (ushort id, string name, ushort type) = DnsWire.ReadQuery(message);
        FakeDnsQuery query = new(id, name, type, overTcp, from);
        Queries.Enqueue(query);
        return query;
    }
}
