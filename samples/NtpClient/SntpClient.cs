using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MNet.Transport.Timers;
using MNet.Transport.Udp;

namespace NtpClient;

/// <summary>
/// An SNTP client on a <see cref="UdpChannel"/>: one request per attempt from a new port, each waited for on a loop
/// timer. A reply counts only from the server asked, as a server-mode answer to this very request (its originate
/// timestamp is our transmit timestamp); anything else is ignored while the attempt's time runs.
/// </summary>
internal static class SntpClient
{
    private const int PacketSize = 48;
    private const byte ClientRequest = (4 << 3) | 3; // LI 0, version 4, mode 3 (client)
    private const int ServerMode = 4;

    public static async Task<SntpResult> QueryAsync(IPEndPoint server, TimeSpan timeout, int attempts, CancellationToken cancellationToken = default)
    {
        for (int attempt = 1; ; attempt++)
        {
            if (await TryQueryAsync(server, timeout, cancellationToken) is { } result)
            {
                return result;
            }
            if (attempt == attempts)
            {
                throw new TimeoutException($"{server} did not answer {attempts} request(s) of {timeout.TotalMilliseconds} ms each.");
            }
        }
    }

    private static async Task<SntpResult?> TryQueryAsync(IPEndPoint server, TimeSpan timeout, CancellationToken cancellationToken)
    {
        IPAddress any = server.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any;
        using UdpChannel channel = UdpChannel.Bind(new IPEndPoint(any, 0));
        channel.Connect(server);

        byte[] request = new byte[PacketSize];
        request[0] = ClientRequest;
        // The wall clock gives the instant sent; the monotonic clock measures the round trip, so a clock step
        // between send and receive cannot distort it.
        NtpTimestamp sent = NtpTimestamp.FromDateTime(DateTime.UtcNow);
        sent.Write(request.AsSpan(40));
        long sentTicks = Stopwatch.GetTimestamp();
        await channel.SendAsync(request, cancellationToken);

        using CancellationTokenSource limit = new(timeout, LoopTimeProvider.Shared);
        using CancellationTokenRegistration link = cancellationToken.Register(limit.Cancel);
        byte[] reply = new byte[PacketSize];
        while (true)
        {
            DatagramReceiveResult received;
            try
            {
                received = await channel.ReceiveAsync(reply, limit.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return null;
            }

            DateTime arrived = sent.ToDateTime() + Stopwatch.GetElapsedTime(sentTicks);
            if (received.ReceivedBytes >= PacketSize && !received.IsTruncated && IsAnswerTo(reply, sent))
            {
                return Measure(reply, sent, NtpTimestamp.FromDateTime(arrived));
            }
        }
    }

    private static bool IsAnswerTo(ReadOnlySpan<byte> reply, NtpTimestamp sent)
        => (reply[0] & 0x7) == ServerMode && NtpTimestamp.Read(reply[24..]) == sent;

    private static SntpResult Measure(ReadOnlySpan<byte> reply, NtpTimestamp t1, NtpTimestamp t4)
    {
        int stratum = reply[1];
        if (stratum == 0)
        {
            // A kiss-o'-death packet: the reference id holds an ASCII code such as RATE or DENY.
            string code = Encoding.ASCII.GetString(reply.Slice(12, 4)).TrimEnd('\0');
            throw new InvalidOperationException($"The server refused to serve time (kiss code {code}).");
        }
        if (reply[0] >> 6 == 3)
        {
            throw new InvalidOperationException("The server's clock is not synchronized (leap indicator 3).");
        }

        NtpTimestamp t2 = NtpTimestamp.Read(reply[32..]);
        NtpTimestamp t3 = NtpTimestamp.Read(reply[40..]);
        TimeSpan offset = ((t2.ToDateTime() - t1.ToDateTime()) + (t3.ToDateTime() - t4.ToDateTime())) / 2;
        TimeSpan delay = (t4.ToDateTime() - t1.ToDateTime()) - (t3.ToDateTime() - t2.ToDateTime());
        return new SntpResult(offset, delay, stratum);
    }
}
