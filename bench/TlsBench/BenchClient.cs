using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;

namespace TlsBench;

/// <summary>The load: the same SslStream client for every server.</summary>
internal static class BenchClient
{
    /// <summary>
    /// <paramref name="concurrency"/> clients, each in a loop: connect, a full TLS handshake (no session resumption),
    /// one byte echoed, close_notify, close. Prints handshakes per second.
    /// </summary>
    public static async Task<int> HandshakesAsync(int port, string thumbprint, int concurrency, TimeSpan duration)
    {
        IPEndPoint endPoint = new(IPAddress.Loopback, port);
        long completed = 0;
        long started = Stopwatch.GetTimestamp();
        using CancellationTokenSource stop = new(duration);
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            byte[] one = [42];
            while (!stop.IsCancellationRequested)
            {
                using Socket socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(endPoint);
                await using SslStream tls = new(new NetworkStream(socket, ownsSocket: false));
                await tls.AuthenticateAsClientAsync(ClientOptions(thumbprint));
                await tls.WriteAsync(one);
                await tls.ReadExactlyAsync(one);
                await tls.ShutdownAsync();
                Interlocked.Increment(ref completed);
            }
        }));
        double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"result handshakes={completed} handshakes_per_s={completed / seconds:F0}"));
        return 0;
    }

    /// <summary>Streams <paramref name="bytes"/> through one TLS connection while reading the echo back; prints MB/s each way.</summary>
    public static async Task<int> ThroughputAsync(int port, string thumbprint, long bytes)
    {
        using Socket socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        await using SslStream tls = new(new NetworkStream(socket, ownsSocket: false));
        await tls.AuthenticateAsClientAsync(ClientOptions(thumbprint));
        byte[] block = new byte[256 * 1024];
        for (int i = 0; i < block.Length; i++)
        {
            block[i] = (byte)i;
        }

        long started = Stopwatch.GetTimestamp();
        Task writing = Task.Run(async () =>
        {
            for (long sent = 0; sent < bytes; sent += block.Length)
            {
                await tls.WriteAsync(block.AsMemory(0, (int)Math.Min(block.Length, bytes - sent)));
            }
        });
        byte[] buffer = new byte[256 * 1024];
        long received = 0;
        while (received < bytes)
        {
            int read = await tls.ReadAsync(buffer);
            if (read == 0)
            {
                throw new IOException($"The server closed after {received} of {bytes} bytes.");
            }
            for (int i = 0; i < read; i++)
            {
                if (buffer[i] != (byte)(received + i))
                {
                    throw new InvalidDataException($"Byte {received + i} is wrong.");
                }
            }
            received += read;
        }
        await writing;
        double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"result bytes={received} MBps={received / seconds / 1e6:F1}"));
        return 0;
    }

    private static SslClientAuthenticationOptions ClientOptions(string thumbprint) => new()
    {
        TargetHost = "localhost",
        AllowTlsResume = false, // every handshake a full one
        RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.GetCertHashString() == thumbprint, // the run's own certificate
    };
}
