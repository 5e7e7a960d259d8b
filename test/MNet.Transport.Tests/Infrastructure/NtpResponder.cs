using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>
/// A stratum-1 SNTP server on 127.0.0.1 whose clock runs <see cref="ClockOffset"/> ahead of this machine's. It can
/// ignore the first requests (to make a client retry) and send a decoy that answers no request before each reply.
/// </summary>
internal sealed class NtpResponder : IAsyncDisposable
{
    private static readonly DateTime Epoch = new(1900, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _serving;
    private int _requests;

    public NtpResponder(TimeSpan clockOffset, int ignoreFirst = 0, bool sendDecoy = false)
    {
        ClockOffset = clockOffset;
        IgnoreFirst = ignoreFirst;
        SendDecoy = sendDecoy;
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        EndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        _serving = ServeAsync();
    }

    public IPEndPoint EndPoint { get; }

    public TimeSpan ClockOffset { get; }

    public int IgnoreFirst { get; }

    public bool SendDecoy { get; }

    public int Requests => Volatile.Read(ref _requests);

    /// <summary>
    /// How many requests came in, once at least <paramref name="count"/> have or 10 s passed: a datagram the client
    /// sent before it exited may still wait in this socket's queue on a busy machine.
    /// </summary>
    public async Task<int> WaitForRequestsAsync(int count)
    {
        for (int wait = 0; wait < 200 && Requests < count; wait++)
        {
            await Task.Delay(50);
        }
        return Requests;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _socket.Dispose();
        try
        {
            await _serving;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        _stop.Dispose();
    }

    private async Task ServeAsync()
    {
        byte[] request = new byte[512];
        while (true)
        {
            SocketReceiveFromResult received = await _socket.ReceiveFromAsync(request, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
            DateTime arrived = DateTime.UtcNow + ClockOffset;
            if (Interlocked.Increment(ref _requests) <= IgnoreFirst || received.ReceivedBytes < 48)
            {
                continue;
            }

            byte[] reply = new byte[48];
            reply[0] = (4 << 3) | 4; // version 4, server mode
            reply[1] = 1; // stratum 1
            "TEST"u8.CopyTo(reply.AsSpan(12));
            request.AsSpan(40, 8).CopyTo(reply.AsSpan(24)); // originate = the client's transmit time
            Write(reply.AsSpan(32), arrived);
            if (SendDecoy)
            {
                byte[] decoy = (byte[])reply.Clone();
                decoy[24] ^= 0xFF; // answers a request never made
                Write(decoy.AsSpan(40), DateTime.UtcNow + ClockOffset + TimeSpan.FromHours(1));
                await _socket.SendToAsync(decoy, SocketFlags.None, received.RemoteEndPoint, _stop.Token);
            }
            Write(reply.AsSpan(40), DateTime.UtcNow + ClockOffset);
            await _socket.SendToAsync(reply, SocketFlags.None, received.RemoteEndPoint, _stop.Token);
        }
    }

    private static void Write(Span<byte> destination, DateTime utc)
        => BinaryPrimitives.WriteUInt64BigEndian(destination, (ulong)((utc - Epoch).TotalSeconds * 4294967296.0));
}
