using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>A bare HTTP/1.1 client over a socket, for what HttpClient hides: pipelining, keep-alive, aborts.</summary>
public sealed class RawHttp : IDisposable
{
    private readonly NetworkStream _stream;

    private RawHttp(Socket socket)
    {
        Socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    public Socket Socket { get; }

    public static async Task<RawHttp> ConnectAsync(EndPoint endPoint)
    {
        Socket socket = new(endPoint.AddressFamily, SocketType.Stream, endPoint is UnixDomainSocketEndPoint ? ProtocolType.Unspecified : ProtocolType.Tcp);
        await socket.ConnectAsync(endPoint);
        return new RawHttp(socket);
    }

    public static string Get(string path, string host = "localhost") => $"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n";

    public Task SendAsync(string text) => _stream.WriteAsync(Encoding.ASCII.GetBytes(text)).AsTask();

    public Task SendAsync(byte[] data) => _stream.WriteAsync(data).AsTask();

    /// <summary>Reads one response that carries a Content-Length; returns its status and body.</summary>
    public async Task<(int Status, string Body)> ReadResponseAsync()
    {
        StringBuilder head = new();
        byte[] one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await _stream.ReadAsync(one) == 0)
            {
                throw new EndOfStreamException($"Connection closed after {head.Length} header bytes.");
            }
            head.Append((char)one[0]);
        }

        string[] lines = head.ToString().Split("\r\n");
        int status = int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture);
        string? lengthLine = lines.FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
        int length = lengthLine is null ? 0 : int.Parse(lengthLine["Content-Length:".Length..].Trim(), CultureInfo.InvariantCulture);
        byte[] body = new byte[length];
        await _stream.ReadExactlyAsync(body);
        return (status, Encoding.UTF8.GetString(body));
    }

    /// <summary>Reads until the server closes; returns the bytes that came first (normally none).</summary>
    public async Task<int> ReadToEndAsync()
    {
        byte[] buffer = new byte[4096];
        int total = 0;
        int read;
        while ((read = await _stream.ReadAsync(buffer)) > 0)
        {
            total += read;
        }
        return total;
    }

    /// <summary>Closes with RST instead of FIN.</summary>
    public void Reset()
    {
        Socket.LingerState = new LingerOption(true, 0);
        Socket.Close();
    }

    public void Dispose() => _stream.Dispose();
}
