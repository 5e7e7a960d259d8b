using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using MNet.Transport.Hosting;
using MNet.Transport.Server;
using MNet.Transport.Tests.Infrastructure;
using MNet.Transport.Tls;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Xunit.Abstractions;

namespace MNet.Transport.Tests.Reliability;

/// <summary>
/// 100 MB echoed through <see cref="FaultProxy"/> (writes split into random pieces, random delays and stalls, some
/// connections cut) between MNet's client and MNet's standalone server over TCP, TLS and a Unix socket, and between
/// HttpClient and Kestrel on MNet: every connection that was not cut gets all
/// its bytes back intact; every cut one ends with an error or an early end, never with a wrong byte.
/// </summary>
public sealed class NetworkFaultTests(ITestOutputHelper output)
{
    private const int Connections = 20;
    private const long BytesPerConnection = 5 * 1000 * 1000; // 20 × 5 MB = 100 MB each way
    private static readonly IPEndPoint AnyLoopbackPort = new(IPAddress.Loopback, 0);
    private static readonly X509Certificate2 Certificate = TestCertificates.Server("localhost");

    [Fact]
    public Task Tcp_ThroughFaultyProxy_IntactOrCleanlyFailed()
        => RunAsync(o => o.ListenTcp(AnyLoopbackPort, c => c.UseConnectionHandler<EchoHandler>()), ConnectAsync, seed: 1);

    [Fact]
    public Task Tls_ThroughFaultyProxy_IntactOrCleanlyFailed()
        => RunAsync(
            o => o.ListenTcp(AnyLoopbackPort, c => c.UseTls(Certificate).UseConnectionHandler<EchoHandler>()),
            (factory, endPoint) => factory.ConnectTlsAsync(endPoint, TestCertificates.PinnedClientOptions(Certificate)).AsTask(),
            seed: 2);

    // The proxy's leg to the server is the Unix socket: the server's side sees the pieces, stalls and cuts.
    [Fact]
    public async Task Unix_ThroughFaultyProxy_IntactOrCleanlyFailed()
    {
        string path = Path.Combine(Path.GetTempPath(), $"mnet-fault-{Guid.NewGuid():N}.sock");
        try
        {
            await RunAsync(o => o.ListenUnix(path, c => c.UseConnectionHandler<EchoHandler>()), ConnectAsync, seed: 3);
        }
        finally
        {
            File.Delete(path);
        }
    }

    // Kestrel on MNet echoes each POST's body as it arrives (HTTP/1.1, chunked both ways), one HttpClient connection each.
    [Theory]
    [MemberData(nameof(Transports.MNet), MemberType = typeof(Transports))]
    public async Task Http_ThroughFaultyProxy_IntactOrCleanlyFailed(TransportKind kind)
    {
        const int seed = 4;
        await using TestWebHost web = await TestWebHost.StartAsync(
            kind,
            app => app.MapPost("/echo", (HttpContext context) => context.Request.Body.CopyToAsync(context.Response.Body)));
        await using FaultProxy proxy = new(web.EndPoint, seed, cutProbability: 0.2, cutWithin: BytesPerConnection);

        Outcome[] outcomes = await Task.WhenAll(Enumerable.Range(0, Connections)
            .Select(key => PostAsync(proxy.EndPoint, key, seed)))
            .WaitAsync(TimeSpan.FromSeconds(90));

        AssertIntactOrCut(outcomes, proxy);
    }

    private async Task RunAsync(
        Action<MNetServerOptions> listen,
        Func<MNetConnectionFactory, EndPoint, Task<ConnectionContext>> connect,
        int seed)
    {
        await using ServerHost host = await ServerHost.StartAsync(listen);
        await using FaultProxy proxy = new(host.EndPoint, seed, cutProbability: 0.2, cutWithin: BytesPerConnection);
        await using MNetConnectionFactory factory = new();

        Outcome[] outcomes = await Task.WhenAll(Enumerable.Range(0, Connections)
            .Select(key => EchoAsync(factory, proxy.EndPoint, connect, key, seed)))
            .WaitAsync(TimeSpan.FromSeconds(90));

        AssertIntactOrCut(outcomes, proxy);
    }

    private static Task<ConnectionContext> ConnectAsync(MNetConnectionFactory factory, EndPoint endPoint) => factory.ConnectAsync(endPoint).AsTask();

    private void AssertIntactOrCut(Outcome[] outcomes, FaultProxy proxy)
    {
        int cut = 0;
        foreach (Outcome outcome in outcomes)
        {
            Assert.False(outcome.Error is InvalidDataException, $"Connection {outcome.Key}: {outcome.Error?.Message}");
            if (outcome.ClientPort is { } port && proxy.Cuts.ContainsKey(port))
            {
                cut++;
                Assert.True(outcome.Error is not null || outcome.Received < BytesPerConnection,
                    $"Connection {outcome.Key} was cut after {proxy.Cuts[port]} bytes yet echoed all {outcome.Received}.");
            }
            else
            {
                Assert.True(outcome.Error is null, $"Connection {outcome.Key} was not cut but failed: {outcome.Error}");
                Assert.Equal(BytesPerConnection, outcome.Received);
            }
        }
        output.WriteLine($"{Connections} connections, {cut} cut by the proxy, the rest echoed {BytesPerConnection:N0} bytes each intact");
        Assert.InRange(cut, 1, Connections - 1); // the seed cuts some and spares some: both paths were checked
    }

    private static async Task<Outcome> EchoAsync(
        MNetConnectionFactory factory,
        EndPoint endPoint,
        Func<MNetConnectionFactory, EndPoint, Task<ConnectionContext>> connect,
        int key,
        int seed)
    {
        ConnectionContext connection;
        try
        {
            connection = await connect(factory, endPoint);
        }
        catch (Exception ex)
        {
            return new Outcome(key, null, 0, ex); // a handshake the proxy cut
        }

        await using (connection)
        {
            int clientPort = ((IPEndPoint)connection.LocalEndPoint!).Port;
            Task writing = WriteThenCompleteAsync(connection, key, new Random(seed * 31 + key));
            long received = 0;
            Exception? error = null;
            try
            {
                received = await KeyedPattern.ReadAndVerifyAsync(connection.Transport.Input, key);
            }
            catch (Exception ex)
            {
                error = ex;
            }
            if (error is not null || received < BytesPerConnection)
            {
                connection.Abort(); // the writer may be waiting on a peer that is gone
            }
            try
            {
                await writing;
            }
            catch (Exception ex)
            {
                error ??= ex;
            }
            return new Outcome(key, clientPort, received, error);
        }
    }

    private static async Task<Outcome> PostAsync(IPEndPoint proxy, int key, int seed)
    {
        int? clientPort = null;
        using SocketsHttpHandler handler = new()
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                Socket socket = new(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(proxy, cancellationToken);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
                clientPort = ((IPEndPoint)socket.LocalEndPoint!).Port;
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        using HttpClient client = new(handler) { Timeout = TimeSpan.FromSeconds(80) };
        using HttpRequestMessage request = new(HttpMethod.Post, $"http://{proxy}/echo")
        {
            Content = new KeyedPatternContent(key, BytesPerConnection, new Random(seed * 31 + key)),
        };
        long received = 0;
        try
        {
            using HttpResponseMessage response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            response.EnsureSuccessStatusCode();
            PipeReader body = PipeReader.Create(await response.Content.ReadAsStreamAsync());
            received = await KeyedPattern.ReadAndVerifyAsync(body, key);
            await body.CompleteAsync();
            return new Outcome(key, clientPort, received, null);
        }
        catch (Exception ex)
        {
            return new Outcome(key, clientPort, received, ex);
        }
    }

    private static async Task WriteThenCompleteAsync(ConnectionContext connection, int key, Random sizes)
    {
        await KeyedPattern.WriteAsync(connection.Transport.Output, key, sizes, maxWrite: 64 * 1024, length: BytesPerConnection);
        await connection.Transport.Output.CompleteAsync();
    }

    private sealed record Outcome(int Key, int? ClientPort, long Received, Exception? Error);
}
