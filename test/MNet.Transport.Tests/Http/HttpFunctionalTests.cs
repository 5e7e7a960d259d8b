using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using MNet.Transport.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace MNet.Transport.Tests.Http;

/// <summary>Every case runs on each MNet backend and on Kestrel's Sockets transport: MNet must behave as Kestrel does.</summary>
public sealed class HttpFunctionalTests
{
    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Get_ReturnsBody_OnTheChosenTransport(TransportKind kind)
    {
        await using TestWebHost host = await TestWebHost.StartAsync(kind, TestEndpoints.Map);
        using HttpClient client = host.CreateClient();

        Assert.Equal(TestEndpoints.Hello, await client.GetStringAsync("/hello"));
        Assert.Equal(kind.ConnectionTypeName(), await client.GetStringAsync("/transport"));
        Assert.NotEqual(0, host.BaseAddress.Port);
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Post_EchoesBody(TransportKind kind)
    {
        await using TestWebHost host = await TestWebHost.StartAsync(kind, TestEndpoints.Map);
        using HttpClient client = host.CreateClient();

        using HttpResponseMessage response = await client.PostAsync("/echo", new StringContent("ping from the client"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ping from the client", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Upload_10MiB_ArrivesByteForByte(TransportKind kind)
    {
        await using TestWebHost host = await TestWebHost.StartAsync(kind, TestEndpoints.Map);
        using HttpClient client = host.CreateClient();
        byte[] payload = new byte[10 * 1024 * 1024];
        new Random(42).NextBytes(payload);

        using HttpResponseMessage response = await client.PostAsync("/sha256", new ByteArrayContent(payload));

        Assert.Equal($"{payload.Length}:{Convert.ToHexString(SHA256.HashData(payload))}", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Download_10MiB_ArrivesByteForByte(TransportKind kind)
    {
        const int length = 10 * 1024 * 1024;
        await using TestWebHost host = await TestWebHost.StartAsync(kind, TestEndpoints.Map);
        using HttpClient client = host.CreateClient();

        byte[] body = await client.GetByteArrayAsync($"/download/{length}");

        Assert.Equal(length, body.Length);
        for (int i = 0; i < body.Length; i++)
        {
            if (body[i] != TestEndpoints.PatternByte(i))
            {
                Assert.Fail($"Byte {i} is {body[i]}, expected {TestEndpoints.PatternByte(i)}.");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task KeepAlive_ServesManyRequestsOnOneConnection(TransportKind kind)
    {
        await using TestWebHost host = await TestWebHost.StartAsync(kind, TestEndpoints.Map);
        using RawHttp http = await RawHttp.ConnectAsync(host.EndPoint);

        for (int i = 0; i < 100; i++)
        {
            await http.SendAsync(RawHttp.Get($"/echo-query?n={i}"));
            (int status, string body) = await http.ReadResponseAsync();
            Assert.Equal(200, status);
            Assert.Equal($"?n={i}", body);
        }
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Pipelined_RequestsAreAnsweredInOrder(TransportKind kind)
    {
        await using TestWebHost host = await TestWebHost.StartAsync(kind, TestEndpoints.Map);
        using RawHttp http = await RawHttp.ConnectAsync(host.EndPoint);

        await http.SendAsync(string.Concat(Enumerable.Range(0, 64).Select(i => RawHttp.Get($"/echo-query?n={i}"))));

        for (int i = 0; i < 64; i++)
        {
            (int status, string body) = await http.ReadResponseAsync();
            Assert.Equal(200, status);
            Assert.Equal($"?n={i}", body);
        }
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task ConcurrentClients_200AreServedAtOnce(TransportKind kind)
    {
        const int clients = 200;
        int arrived = 0;
        TaskCompletionSource allArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
        await using TestWebHost host = await TestWebHost.StartAsync(kind, app =>
            app.MapGet("/gate/{id:int}", async (HttpContext context, int id) =>
            {
                // Nobody is answered until all are in: the server must hold 200 connections at once.
                if (Interlocked.Increment(ref arrived) == clients)
                {
                    allArrived.SetResult();
                }
                await allArrived.Task.WaitAsync(TimeSpan.FromSeconds(30));
                await TestEndpoints.WriteAsync(context, $"client {id}");
            }));
        using HttpClient client = host.CreateClient();

        string[] bodies = await Task.WhenAll(Enumerable.Range(0, clients).Select(i => client.GetStringAsync($"/gate/{i}")));

        Assert.Equal(Enumerable.Range(0, clients).Select(i => $"client {i}"), bodies);
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task ClientAbortMidBody_FailsTheBodyReadAndServerGoesOn(TransportKind kind)
    {
        TaskCompletionSource<Exception?> bodyReadOutcome = new(TaskCreationOptions.RunContinuationsAsynchronously);
        TaskCompletionSource bodyReadStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
        await using TestWebHost host = await TestWebHost.StartAsync(kind, app =>
        {
            TestEndpoints.Map(app);
            app.MapPost("/slow-upload", async (HttpContext context) =>
            {
                bodyReadStarted.TrySetResult();
                try
                {
                    await context.Request.Body.CopyToAsync(Stream.Null);
                    bodyReadOutcome.TrySetResult(null);
                }
                catch (Exception ex)
                {
                    bodyReadOutcome.TrySetResult(ex);
                }
            });
        });

        using (RawHttp http = await RawHttp.ConnectAsync(host.EndPoint))
        {
            await http.SendAsync("POST /slow-upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000\r\n\r\n");
            await http.SendAsync(new byte[10_000]);
            // Reset only once the request is in the application's hands: a reset that lands while the request still
            // waits in the socket fails the connection's input before the request is parsed (on any transport, as the
            // pipe then reports the error ahead of unread data), and no handler would ever run.
            await bodyReadStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
            http.Reset();
        }

        Exception? outcome = await bodyReadOutcome.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.IsAssignableFrom<IOException>(outcome);

        using HttpClient client = host.CreateClient();
        Assert.Equal(TestEndpoints.Hello, await client.GetStringAsync("/hello"));
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task ServerAbort_FailsTheRequestAndServerGoesOn(TransportKind kind)
    {
        await using TestWebHost host = await TestWebHost.StartAsync(kind, app =>
        {
            TestEndpoints.Map(app);
            app.MapGet("/abort", (HttpContext context) => context.Abort());
        });
        using HttpClient client = host.CreateClient();

        await Assert.ThrowsAsync<HttpRequestException>(() => client.GetStringAsync("/abort"));

        Assert.Equal(TestEndpoints.Hello, await client.GetStringAsync("/hello"));
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Http2PriorKnowledge_MultiplexesStreamsOnOneConnection(TransportKind kind)
    {
        await using TestWebHost host = await TestWebHost.StartAsync(kind, TestEndpoints.Map, kestrel: options =>
            options.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http2));
        using HttpClient client = host.CreateClient(HttpVersion.Version20);

        HttpResponseMessage[] responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => client.GetAsync($"/echo-query?n={i}")));

        for (int i = 0; i < responses.Length; i++)
        {
            Assert.Equal(HttpVersion.Version20, responses[i].Version);
            Assert.Equal($"?n={i}", await responses[i].Content.ReadAsStringAsync());
            responses[i].Dispose();
        }
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task IPv6Loopback_IsServed(TransportKind kind)
    {
        await using TestWebHost host = await TestWebHost.StartAsync(kind, TestEndpoints.Map, kestrel: options =>
            options.Listen(IPAddress.IPv6Loopback, 0));
        using HttpClient client = host.CreateClient();

        Assert.Equal("[::1]", host.BaseAddress.Host);
        Assert.Equal(TestEndpoints.Hello, await client.GetStringAsync("/hello"));
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task UnixSocket_IsServed(TransportKind kind)
    {
        string path = Path.Combine(Path.GetTempPath(), $"mnet-{Guid.NewGuid():N}.sock");
        await using (TestWebHost host = await TestWebHost.StartAsync(kind, TestEndpoints.Map, kestrel: options => options.ListenUnixSocket(path)))
        {
            using HttpClient client = new(new SocketsHttpHandler
            {
                ConnectCallback = async (_, cancellationToken) =>
                {
                    Socket socket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                },
            });

            Assert.Equal(TestEndpoints.Hello, await client.GetStringAsync("http://localhost/hello"));
            Assert.Equal(TestEndpoints.Hello, await client.GetStringAsync("http://localhost/hello"));
        }
        File.Delete(path);
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task AddressInUse_FailsWithKestrelsError(TransportKind kind)
    {
        using Socket squatter = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        squatter.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        squatter.Listen();
        int port = ((IPEndPoint)squatter.LocalEndPoint!).Port;

        IOException error = await Assert.ThrowsAsync<IOException>(() =>
            TestWebHost.StartAsync(kind, TestEndpoints.Map, kestrel: options => options.Listen(IPAddress.Loopback, port)));

        Assert.IsType<Microsoft.AspNetCore.Connections.AddressInUseException>(error.InnerException);
        Assert.Contains("address already in use", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Stop_WhileConnectionsAreOpen_FinishesInFlightAndClosesIdle(TransportKind kind)
    {
        await using (TestWebHost warmUp = await TestWebHost.StartAsync(kind, TestEndpoints.Map))
        {
            using RawHttp http = await RawHttp.ConnectAsync(warmUp.EndPoint);
            await http.SendAsync(RawHttp.Get("/hello"));
            await http.ReadResponseAsync();
        }
        int fdBaseline = ProcessResources.OpenFileDescriptors;
        int loopBaseline = ProcessResources.LoopThreads;
        TaskCompletionSource release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        TaskCompletionSource entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        TestWebHost host = await TestWebHost.StartAsync(kind, app =>
        {
            TestEndpoints.Map(app);
            app.MapGet("/slow", async (HttpContext context) =>
            {
                entered.SetResult();
                await release.Task;
                await TestEndpoints.WriteAsync(context, "finished");
            });
        });

        using RawHttp idle = await RawHttp.ConnectAsync(host.EndPoint);
        await idle.SendAsync(RawHttp.Get("/hello"));
        Assert.Equal(200, (await idle.ReadResponseAsync()).Status);
        using RawHttp busy = await RawHttp.ConnectAsync(host.EndPoint);
        await busy.SendAsync(RawHttp.Get("/slow"));
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));

        Task stopping = host.App.StopAsync();
        await Task.Delay(200);
        release.SetResult();

        Assert.Equal((200, "finished"), await busy.ReadResponseAsync());
        Assert.Equal(0, await idle.ReadToEndAsync());
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));
        await host.DisposeAsync();
        idle.Dispose();
        busy.Dispose();

        int remaining = await ProcessResources.SettleAsync(() => ProcessResources.OpenFileDescriptors, fdBaseline);
        Assert.True(remaining <= fdBaseline, $"{remaining} descriptors open, {fdBaseline} before: {ProcessResources.DescribeFileDescriptors()}");
        await ProcessResources.AssertLoopThreadsSettleToAsync(loopBaseline);
    }
}
