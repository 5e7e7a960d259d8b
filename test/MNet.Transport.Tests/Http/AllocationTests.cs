using System.Net;
using System.Net.Sockets;
using System.Text;
using MNet.Transport.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Xunit.Abstractions;

namespace MNet.Transport.Tests.Http;

/// <summary>
/// Bytes the whole process allocates per request in steady state through real Kestrel, counted with
/// <see cref="GC.GetTotalAllocatedBytes(bool)"/>, on MNet and on Sockets in one run. The app and the client allocate
/// nothing per request, so what is counted is Kestrel's HTTP layer (the same on both) plus the transport.
/// </summary>
public sealed class AllocationTests(ITestOutputHelper output)
{
    private const int Connections = 5;
    private const int Requests = 100_000;
    private static readonly byte[] Body = "Hello, World!"u8.ToArray();

    // Depth 1: a receive, a schedule and a send per request. Depth 16: pipelined, many requests per receive.
    [Theory]
    [InlineData(TransportKind.Epoll, 1)]
    [InlineData(TransportKind.Epoll, 16)]
    [InlineData(TransportKind.Portable, 1)]
    [InlineData(TransportKind.Portable, 16)]
    [InlineData(TransportKind.IoUring, 1)]
    [InlineData(TransportKind.IoUring, 16)]
    public async Task Mnet_AllocatesNothingPerRequest_InSteadyState(TransportKind kind, int depth)
    {
        double mnet = await BytesPerRequestAsync(kind, depth);
        double sockets = await BytesPerRequestAsync(TransportKind.Sockets, depth);
        output.WriteLine($"bytes allocated per request over {Requests:N0} requests, {depth} in flight per connection: MNet ({kind}) {mnet:F3}, Sockets {sockets:F3}");

        // One object per request would be 24 bytes or more. What the process allocates besides is time-based (Kestrel's
        // heartbeat, the thread pool: about 2 KB/s either way), so a slower run shows a little more of it.
        Assert.True(mnet < 2, $"MNet: {mnet:F3} bytes per request");
        Assert.True(mnet - sockets < 1, $"MNet {mnet:F3} vs Sockets {sockets:F3} bytes per request");
    }

    private static async Task<double> BytesPerRequestAsync(TransportKind kind, int depth)
    {
        byte[] batch = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat(RawHttp.Get("/"), depth)));
        int batchesPerConnection = Requests / (Connections * depth);
        await using TestWebHost host = await TestWebHost.StartAsync(kind, app => app.Run(Hello));
        Socket[] sockets = new Socket[Connections];
        try
        {
            for (int i = 0; i < sockets.Length; i++)
            {
                sockets[i] = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await sockets[i].ConnectAsync(host.EndPoint);
            }
            int responseLength = MeasureResponseLength(sockets[0]);
            byte[][] buffers = [.. sockets.Select(_ => new byte[depth * responseLength])];

            // Warm up: JIT, pools, Kestrel's per-connection state and cached header values.
            await DriveAsync(sockets, batch, depth, buffers, batchesPerConnection / 10);

            long before = GC.GetTotalAllocatedBytes(precise: true);
            await DriveAsync(sockets, batch, depth, buffers, batchesPerConnection);
            long after = GC.GetTotalAllocatedBytes(precise: true);
            return (after - before) / (double)(batchesPerConnection * Connections * depth);
        }
        finally
        {
            foreach (Socket? socket in sockets)
            {
                socket?.Dispose();
            }
        }
    }

    private static Task Hello(HttpContext context)
    {
        context.Response.ContentLength = Body.Length;
        context.Response.ContentType = "text/plain";
        ValueTask<System.IO.Pipelines.FlushResult> write = context.Response.BodyWriter.WriteAsync(Body);
        return write.IsCompletedSuccessfully ? Task.CompletedTask : write.AsTask();
    }

    // Every response has the same length: the Date header is fixed-width.
    private static int MeasureResponseLength(Socket socket)
    {
        socket.Send(Encoding.ASCII.GetBytes(RawHttp.Get("/")));
        byte[] buffer = new byte[4096];
        int length = 0;
        while (!buffer.AsSpan(0, length).EndsWith(Body))
        {
            int received = socket.Receive(buffer.AsSpan(length));
            Assert.NotEqual(0, received);
            length += received;
        }
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", Encoding.ASCII.GetString(buffer, 0, length));
        return length;
    }

    // Blocking sockets on worker threads. A blocking Receive that has to wait allocates an operation object, so the
    // client polls first and receives only what is there: the client allocates nothing per request.
    private static Task DriveAsync(Socket[] sockets, byte[] requests, int depth, byte[][] buffers, int batches) =>
        Task.WhenAll(sockets.Select((socket, i) => Task.Run(() => Drive(socket, requests, depth, buffers[i], batches))));

    // Sends the requests, reads their responses into the buffer and checks each one; batches times.
    private static void Drive(Socket socket, byte[] requests, int depth, byte[] buffer, int batches)
    {
        int responseLength = buffer.Length / depth;
        for (int batch = 0; batch < batches; batch++)
        {
            socket.Send(requests);
            int length = 0;
            while (length < buffer.Length)
            {
                socket.Poll(-1, SelectMode.SelectRead);
                int received = socket.Receive(buffer.AsSpan(length));
                if (received == 0)
                {
                    throw new IOException($"the server closed the connection after {batch} batches");
                }
                length += received;
            }
            for (int response = 0; response < depth; response++)
            {
                ReadOnlySpan<byte> one = buffer.AsSpan(response * responseLength, responseLength);
                if (!one.StartsWith("HTTP/1.1 200 OK\r\n"u8) || !one.EndsWith(Body))
                {
                    throw new InvalidDataException($"response {response} of batch {batch}: {Encoding.ASCII.GetString(one)}");
                }
            }
        }
    }
}
