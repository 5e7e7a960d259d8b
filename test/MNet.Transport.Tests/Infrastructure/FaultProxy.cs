using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>
/// A TCP proxy on loopback (to a TCP or Unix socket target), built on .NET's own sockets, that disturbs what passes through it: every read is
/// forwarded in random small pieces, some pieces wait up to 20 ms, now and then a direction stalls for 200 ms, and
/// a share of the connections is cut (RST both ways) at a random point. Everything is drawn from a seed.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    private const int MaxPiece = 4096;

    private readonly Socket _listener;
    private readonly EndPoint _target;
    private readonly int _seed;
    private readonly double _cutProbability;
    private readonly long _cutWithin;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentBag<Task> _relays = [];
    private readonly ConcurrentDictionary<int, long> _cuts = new();
    private readonly Task _acceptLoop;

    /// <param name="target">Where connections are relayed to.</param>
    /// <param name="seed">Seeds every random choice.</param>
    /// <param name="cutProbability">The share of connections to cut.</param>
    /// <param name="cutWithin">A cut connection is cut once this many bytes, at most, went one way.</param>
    public FaultProxy(EndPoint target, int seed, double cutProbability, long cutWithin)
    {
        _target = target;
        _seed = seed;
        _cutProbability = cutProbability;
        _cutWithin = cutWithin;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(512);
        EndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _acceptLoop = AcceptLoopAsync();
    }

    public IPEndPoint EndPoint { get; }

    /// <summary>The client ports of the connections cut so far, each with the bytes forwarded before the cut.</summary>
    public IReadOnlyDictionary<int, long> Cuts => _cuts;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _acceptLoop;
        await Task.WhenAll(_relays);
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        for (int index = 0; ; index++)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _relays.Add(RelayAsync(client, new Random(_seed * 7919 + index)));
        }
    }

    private async Task RelayAsync(Socket client, Random random)
    {
        using Socket server = _target is UnixDomainSocketEndPoint
            ? new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new(_target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using (client)
        {
            client.NoDelay = true;
            try
            {
                await server.ConnectAsync(_target, _stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException)
            {
                return;
            }

            bool cut = random.NextDouble() < _cutProbability;
            bool cutUpstream = random.Next(2) == 0;
            long cutAfter = random.NextInt64(0, _cutWithin);
            Connection connection = new(client, server, ((IPEndPoint)client.RemoteEndPoint!).Port, this);
            await Task.WhenAll(
                PumpAsync(connection, client, server, new Random(random.Next()), cut && cutUpstream ? cutAfter : -1),
                PumpAsync(connection, server, client, new Random(random.Next()), cut && !cutUpstream ? cutAfter : -1));
        }
    }

    // Forwards from → to until from ends (then passes the FIN on), the connection is cut, or either side fails.
    private async Task PumpAsync(Connection connection, Socket from, Socket to, Random random, long cutAfter)
    {
        byte[] buffer = new byte[64 * 1024];
        long forwarded = 0;
        try
        {
            while (true)
            {
                int received = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (received == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }
                for (int offset = 0; offset < received;)
                {
                    int piece = Math.Min(received - offset, random.Next(1, MaxPiece + 1));
                    if (cutAfter >= 0 && forwarded + piece > cutAfter)
                    {
                        connection.Cut(forwarded);
                        return;
                    }
                    if (random.Next(50) == 0)
                    {
                        await Task.Delay(random.Next(1, 21), _stop.Token);
                    }
                    else if (random.Next(2000) == 0)
                    {
                        await Task.Delay(200, _stop.Token);
                    }
                    await to.SendAsync(buffer.AsMemory(offset, piece), SocketFlags.None, _stop.Token);
                    offset += piece;
                    forwarded += piece;
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // One side reset or the other pump cut: make sure both ends see it.
            connection.Cut(forwarded, record: false);
        }
    }

    private sealed class Connection(Socket client, Socket server, int clientPort, FaultProxy proxy)
    {
        private int _cut;

        /// <summary>Resets both sides, once; a deliberate cut is recorded against the client's port.</summary>
        public void Cut(long forwarded, bool record = true)
        {
            if (Interlocked.Exchange(ref _cut, 1) != 0)
            {
                return;
            }
            if (record)
            {
                proxy._cuts[clientPort] = forwarded;
            }
            foreach (Socket socket in new[] { client, server })
            {
                try
                {
                    if (socket.ProtocolType == ProtocolType.Tcp)
                    {
                        socket.LingerState = new LingerOption(true, 0); // a Unix socket has no RST: it is just closed
                    }
                    socket.Close();
                }
                catch (ObjectDisposedException)
                {
                }
            }
        }
    }
}
