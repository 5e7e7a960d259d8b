using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MNet.Transport.Dns;
using MNet.Transport.Hosting;
using MNet.Transport.Server;
using MNet.Transport.Tests.Infrastructure;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MNet.Transport.Tests.Server;

public sealed class StandaloneServerTests
{
    private static readonly IPEndPoint AnyLoopbackPort = new(IPAddress.Loopback, 0);

    public static TheoryData<string, MNetBackend> ChannelsOnBackends => new()
    {
        { "tcp", MNetBackend.Epoll },
        { "unix", MNetBackend.Epoll },
        { "tcp", MNetBackend.Portable },
        { "unix", MNetBackend.Portable },
        { "tcp", MNetBackend.IoUring },
        { "unix", MNetBackend.IoUring },
    };

    [Theory]
    [MemberData(nameof(ChannelsOnBackends))]
    public async Task Echo_ThroughAddMNetServer_AndTheClientFactory(string channel, MNetBackend backend)
    {
        string path = Path.Combine(Path.GetTempPath(), $"mnet-{Guid.NewGuid():N}.sock");
        await using ServerHost host = await ServerHost.StartAsync(backend, o => ListenEcho(o, channel, path));
        await using MNetConnectionFactory client = Transports.CreateClient(backend);

        await using ConnectionContext connection = await client.ConnectAsync(host.EndPoint);
        await connection.Transport.Output.WriteAsync("hello, echo"u8.ToArray());
        string reply = await ReadStringAsync(connection.Transport.Input, "hello, echo".Length);

        Assert.Equal("hello, echo", reply);
        Assert.Equal(host.EndPoint, connection.RemoteEndPoint);
        if (channel == "tcp")
        {
            Assert.Equal(IPAddress.Loopback, ((IPEndPoint)connection.LocalEndPoint!).Address);
        }
    }

    // Each client writes 1 MiB in one call and sends its FIN right behind it, so the FIN reaches the server while
    // most of the data is still in flight (and, with EPOLLRDHUP, before the server has read it): the server reads
    // every byte, echoes it, and only then ends the connection.
    [Theory]
    [MemberData(nameof(ChannelsOnBackends))]
    public async Task FinWithDataInFlight_EveryByteIsEchoedBeforeTheServerCloses(string channel, MNetBackend backend)
    {
        const int Clients = 32, Bytes = 1024 * 1024;
        string path = Path.Combine(Path.GetTempPath(), $"mnet-{Guid.NewGuid():N}.sock");
        await using ServerHost host = await ServerHost.StartAsync(backend, o => ListenEcho(o, channel, path));
        byte[] upload = BytePattern.Block(Bytes);

        long[] echoed = await Task.WhenAll(Enumerable.Range(0, Clients).Select(async _ =>
        {
            using Socket socket = channel == "tcp"
                ? new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)
                : new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(host.EndPoint);
            using NetworkStream stream = new(socket, ownsSocket: false); // before Shutdown, which marks the socket disconnected
            Task<long> reading = BytePattern.ReadAndVerifyAsync(PipeReader.Create(stream));
            await socket.SendAsync(upload);
            socket.Shutdown(SocketShutdown.Send);
            return await reading;
        })).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.All(echoed, e => Assert.Equal(Bytes, e));
        File.Delete(path);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task OneGiB_EchoedBothWaysAtOnce_ThroughTheServerAndTheClientFactory(MNetBackend backend)
    {
        const long OneGiB = 1L << 30;
        await using ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenTcp(AnyLoopbackPort, c => c.UseConnectionHandler<EchoHandler>()));
        await using MNetConnectionFactory client = Transports.CreateClient(backend);
        await using ConnectionContext connection = await client.ConnectAsync(host.EndPoint);

        Task sending = Task.Run(async () =>
        {
            byte[] block = BytePattern.Block();
            for (long sent = 0; sent < OneGiB; sent += block.Length)
            {
                FlushResult flush = await connection.Transport.Output.WriteAsync(block);
                Assert.False(flush.IsCompleted, "the server stopped reading");
            }
            await connection.Transport.Output.CompleteAsync();
        });

        long received = await BytePattern.ReadAndVerifyAsync(connection.Transport.Input);
        await sending;

        Assert.Equal(OneGiB, received);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task Clients256_ConnectEchoDisconnect_5Rounds_FdCountReturnsToBaseline(MNetBackend backend)
    {
        await using ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenTcp(AnyLoopbackPort, c => c.UseConnectionHandler<EchoHandler>()));
        await using MNetConnectionFactory client = Transports.CreateClient(backend);
        Assert.True(await EchoOnceAsync(client, host.EndPoint, -1)); // loads what the rounds use
        int baseline = ProcessResources.OpenFileDescriptors;

        for (int round = 0; round < 5; round++)
        {
            int currentRound = round;
            bool[] results = await Task.WhenAll(Enumerable.Range(0, 256).Select(i => EchoOnceAsync(client, host.EndPoint, currentRound * 1000 + i)));
            Assert.All(results, Assert.True);
            int open = await ProcessResources.SettleAsync(() => ProcessResources.OpenFileDescriptors, baseline);
            Assert.True(open <= baseline, $"Round {round}: {open} descriptors open, {baseline} before: {ProcessResources.DescribeFileDescriptors()}");
        }
        Assert.Equal(0, await ProcessResources.SettleAsync(() => host.Server.ConnectionCount, 0));
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task AHandlerThatThrows_ClosesItsConnection_IsLogged_AndTheServerKeepsServing(MNetBackend backend)
    {
        await using ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenTcp(AnyLoopbackPort, c => c
            .Use(next => async connection =>
            {
                ReadResult first = await connection.Transport.Input.ReadAsync();
                if (first.Buffer.FirstSpan[0] == (byte)'!')
                {
                    throw new InvalidOperationException("handler failed on purpose");
                }
                connection.Transport.Input.AdvanceTo(first.Buffer.Start);
                await next(connection);
            })
            .UseConnectionHandler<EchoHandler>()));
        await using MNetConnectionFactory client = Transports.CreateClient(backend);

        await using ConnectionContext failing = await client.ConnectAsync(host.EndPoint);
        await failing.Transport.Output.WriteAsync("!"u8.ToArray());
        ReadResult closed = await failing.Transport.Input.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(closed.IsCompleted && closed.Buffer.IsEmpty);
        LogEntry entry = Assert.Single(host.Log.Entries, e => e.Level == LogLevel.Error);
        Assert.Equal("handler failed on purpose", entry.Exception?.Message);
        Assert.Contains("threw", entry.Message, StringComparison.Ordinal);
        Assert.True(await EchoOnceAsync(client, host.EndPoint, 7));
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task Stop_WaitsForOpenConnections_ThenAbortsThemAtTheShutdownTimeout(MNetBackend backend)
    {
        TaskCompletionSource<ConnectionContext> started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        ServerHost host = await ServerHost.StartAsync(backend, 
            o => o.ListenTcp(AnyLoopbackPort, c => c.Run(async connection =>
            {
                started.SetResult(connection);
                await Task.Delay(Timeout.Infinite, connection.ConnectionClosed).ContinueWith(_ => { });
            })),
            shutdownTimeout: TimeSpan.FromMilliseconds(500));
        EndPoint endPoint = host.EndPoint;
        await using MNetConnectionFactory client = Transports.CreateClient(backend);
        await using ConnectionContext connection = await client.ConnectAsync(endPoint);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10));

        Task stopping = host.StopAsync();
        await Task.Delay(100);
        Assert.False(stopping.IsCompleted, "stop did not wait for the open connection");
        await Assert.ThrowsAsync<SocketException>(async () => await client.ConnectAsync(endPoint));

        await stopping.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains(host.Log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("aborted", StringComparison.Ordinal));
        Assert.Equal(0, host.Server.ConnectionCount);
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            ReadResult read = await connection.Transport.Input.ReadAsync();
            Assert.False(read.IsCompleted); // a reset peer is an error, a FIN is not: either way nothing more arrives
        });
        await host.DisposeAsync();
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task ListenHandle_ServesAnInheritedListeningSocket_AndRejectsOtherHandles(MNetBackend backend)
    {
        int fd = MNet.Transport.Tcp.ListenSocket.Open(AnyLoopbackPort, 16, reusePort: false, noDelay: false);
        EndPoint bound = MNet.Transport.Native.SockAddr.GetSockName(fd, AddressFamily.InterNetwork)!;
        await using (ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenHandle((ulong)fd, c => c.UseConnectionHandler<EchoHandler>())))
        {
            await using MNetConnectionFactory client = Transports.CreateClient(backend);
            Assert.True(await EchoOnceAsync(client, bound, 42));
        }

        using FileStream notASocket = File.OpenRead("/proc/self/status");
        ArgumentException rejected = await Assert.ThrowsAsync<ArgumentException>(() => ServerHost.StartAsync(backend, 
            o => o.ListenHandle((ulong)notASocket.SafeFileHandle.DangerousGetHandle(), c => c.UseConnectionHandler<EchoHandler>())));
        Assert.Contains("not a listening stream socket", rejected.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task APeerThatVanishesMidWrite_EndsOnlyThatConnection_AndLeaksNothing(MNetBackend backend)
    {
        TaskCompletionSource<Exception?> writerEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
        await using ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenTcp(AnyLoopbackPort, c => c.Run(async connection =>
        {
            byte[] block = BytePattern.Block();
            try
            {
                while (!(await connection.Transport.Output.WriteAsync(block)).IsCompleted)
                {
                }
                writerEnded.TrySetResult(null);
            }
            catch (Exception ex)
            {
                writerEnded.TrySetResult(ex);
            }
        })));
        int baseline = ProcessResources.OpenFileDescriptors;

        using (Socket peer = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await peer.ConnectAsync(host.EndPoint);
            await peer.ReceiveAsync(new byte[4096]);
            peer.LingerState = new LingerOption(true, 0); // vanish: RST, not FIN
        }

        Exception? ended = await writerEnded.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(ended is null or ConnectionResetException or ConnectionAbortedException, ended?.ToString());
        Assert.Equal(0, await ProcessResources.SettleAsync(() => host.Server.ConnectionCount, 0));
        int open = await ProcessResources.SettleAsync(() => ProcessResources.OpenFileDescriptors, baseline);
        Assert.True(open <= baseline, ProcessResources.DescribeFileDescriptors());
        using Socket next = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await next.ConnectAsync(host.EndPoint);
        byte[] received = new byte[256];
        int count = await next.ReceiveAsync(received);
        Assert.True(count > 0);
        BytePattern.Verify(received.AsSpan(0, count), 0); // the server still serves new connections
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task AClientThatNeverReads_StallsTheWriter_WithinTheWriteBufferLimit(MNetBackend backend)
    {
        long written = 0;
        await using ServerHost host = await ServerHost.StartAsync(backend, 
            o => o.ListenTcp(AnyLoopbackPort, c => c.Run(async connection =>
            {
                byte[] block = BytePattern.Block();
                while (!(await connection.Transport.Output.WriteAsync(block, connection.ConnectionClosed)).IsCompleted)
                {
                    Interlocked.Add(ref written, block.Length);
                }
            })),
            transport: t => t.MaxWriteBufferSize = 256 * 1024);

        using Socket lazy = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        lazy.ReceiveBufferSize = 64 * 1024;
        await lazy.ConnectAsync(host.EndPoint);
        long previous = -1;
        while (Interlocked.Read(ref written) != previous)
        {
            previous = Interlocked.Read(ref written);
            await Task.Delay(300); // until the writer stops making progress
        }

        // What is out of the pipe sits in the two kernel buffers; the pipe holds at most its limit plus a block.
        long kernelBuffers = 16L * 1024 * 1024;
        Assert.InRange(written, 1, 256 * 1024 + 64 * 1024 + kernelBuffers);
    }

    // A peer that stops reading holds the server's writer at the buffer limit; with an idle timeout the stalled
    // connection is then aborted (nothing was sent or received for that long), the writer is released and the
    // client sees the reset.
    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task AClientThatStopsReading_IsAbortedByTheIdleTimeout_ReleasingTheStalledWriter(MNetBackend backend)
    {
        long written = 0;
        TaskCompletionSource<Exception?> writerEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
        await using ServerHost host = await ServerHost.StartAsync(backend, 
            o =>
            {
                o.IdleTimeout = TimeSpan.FromSeconds(1);
                o.ListenTcp(AnyLoopbackPort, c => c.Run(async connection =>
                {
                    byte[] block = BytePattern.Block();
                    try
                    {
                        while (!(await connection.Transport.Output.WriteAsync(block)).IsCompleted)
                        {
                            Interlocked.Add(ref written, block.Length);
                        }
                        writerEnded.TrySetResult(null);
                    }
                    catch (Exception ex)
                    {
                        writerEnded.TrySetResult(ex);
                    }
                }));
            },
            transport: t => t.MaxWriteBufferSize = 256 * 1024);
        using Socket lazy = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        lazy.ReceiveBufferSize = 64 * 1024;
        await lazy.ConnectAsync(host.EndPoint);

        Exception? ended = await writerEnded.Task.WaitAsync(TimeSpan.FromSeconds(20));

        Assert.True(ended is null or ConnectionAbortedException or ConnectionResetException, ended?.ToString());
        Assert.InRange(Interlocked.Read(ref written), 1, 256 * 1024 + 64 * 1024 + 16L * 1024 * 1024);
        byte[] drain = new byte[64 * 1024];
        SocketException reset = await Assert.ThrowsAsync<SocketException>(async () =>
        {
            while (await lazy.ReceiveAsync(drain) > 0)
            {
                // what the kernel buffers held arrives first, then the reset
            }
        });
        Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task Connect_ToAClosedPort_IsRefused_NamingTheEndpoint(MNetBackend backend)
    {
        IPEndPoint closed;
        using (Socket probe = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            probe.Bind(AnyLoopbackPort);
            closed = (IPEndPoint)probe.LocalEndPoint!;
        }
        await using MNetConnectionFactory client = Transports.CreateClient(backend);

        SocketException refused = await Assert.ThrowsAsync<SocketException>(async () => await client.ConnectAsync(closed));

        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        Assert.Contains(closed.ToString(), refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task Connect_ThatCannotComplete_IsCanceledByTheToken_NamingTheEndpoint_AndLeaksNothing(MNetBackend backend)
    {
        await WithHangingEndPointAsync(async hangingEndPoint =>
        {
            int baseline = ProcessResources.OpenFileDescriptors;
            await using MNetConnectionFactory hanging = Transports.CreateClient(backend);

            using CancellationTokenSource timeout = new(TimeSpan.FromMilliseconds(300));
            OperationCanceledException canceled = await Assert.ThrowsAnyAsync<OperationCanceledException>(
                async () => await hanging.ConnectAsync(hangingEndPoint, timeout.Token));

            Assert.Contains(hangingEndPoint.ToString()!, canceled.Message, StringComparison.Ordinal);
            Assert.Equal(timeout.Token, canceled.CancellationToken);
            await hanging.DisposeAsync();
            int open = await ProcessResources.SettleAsync(() => ProcessResources.OpenFileDescriptors, baseline);
            Assert.True(open <= baseline, ProcessResources.DescribeFileDescriptors());
        });
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task ConnectTimeout_FailsAConnectThatCannotComplete_WithTimedOut_NamingTheEndpoint(MNetBackend backend)
    {
        await WithHangingEndPointAsync(async hangingEndPoint =>
        {
            await using MNetConnectionFactory client = Transports.CreateClient(backend, o => o.ConnectTimeout = TimeSpan.FromMilliseconds(300));
            long start = Stopwatch.GetTimestamp();

            SocketException timedOut = await Assert.ThrowsAsync<SocketException>(async () => await client.ConnectAsync(hangingEndPoint));

            Assert.Equal(SocketError.TimedOut, timedOut.SocketErrorCode);
            Assert.Contains(hangingEndPoint.ToString()!, timedOut.Message, StringComparison.Ordinal);
            Assert.True(Stopwatch.GetElapsedTime(start) >= TimeSpan.FromMilliseconds(300));

            // The caller's own token still reports as a cancellation, not a timeout.
            using CancellationTokenSource mine = new(TimeSpan.FromMilliseconds(50));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await client.ConnectAsync(hangingEndPoint, mine.Token));
        });
        Assert.Throws<ArgumentOutOfRangeException>(
            "ConnectTimeout", () => new MNetConnectionFactory(Options.Create(new MNetTransportOptions { ConnectTimeout = TimeSpan.Zero }), NullLoggerFactory.Instance));
    }

    /// <summary>Runs <paramref name="body"/> with the endpoint of a listener that never accepts and whose queue is full: SYNs to it are dropped.</summary>
    private static async Task WithHangingEndPointAsync(Func<EndPoint, Task> body)
    {
        using Socket full = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        full.Bind(AnyLoopbackPort);
        full.Listen(0);
        List<Socket> fillers = [];
        try
        {
            for (int i = 0; i < 4; i++)
            {
                Socket filler = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                fillers.Add(filler);
                _ = filler.ConnectAsync(full.LocalEndPoint!);
            }
            await Task.Delay(200);
            await body(full.LocalEndPoint!);
        }
        finally
        {
            fillers.ForEach(f => f.Dispose());
        }
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task Connect_ToAHostName_FallsBackAcrossAddresses(MNetBackend backend)
    {
        IPAddress[] localhost = await System.Net.Dns.GetHostAddressesAsync("localhost");
        await using ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenTcp(AnyLoopbackPort, c => c.UseConnectionHandler<EchoHandler>()));
        int port = ((IPEndPoint)host.EndPoint).Port;
        await using MNetConnectionFactory client = Transports.CreateClient(backend);

        // Only 127.0.0.1 listens; if "localhost" also resolves to ::1, that attempt is refused and the next one wins.
        Assert.True(await EchoOnceAsync(client, new DnsEndPoint("localhost", port), 5));
        Assert.Contains(IPAddress.Loopback, localhost);

        using CancellationTokenSource canceled = new();
        await canceled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await client.ConnectAsync(new DnsEndPoint("localhost", port), canceled.Token));
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task IdleTimeout_AbortsAQuietConnection_AndSparesABusyOne(MNetBackend backend)
    {
        await using ServerHost host = await ServerHost.StartAsync(backend, o =>
        {
            o.IdleTimeout = TimeSpan.FromSeconds(1);
            o.ListenTcp(AnyLoopbackPort, c => c.UseConnectionHandler<EchoHandler>());
        });
        using Socket busy = new(SocketType.Stream, ProtocolType.Tcp);
        await busy.ConnectAsync(host.EndPoint);
        using Socket quiet = new(SocketType.Stream, ProtocolType.Tcp);
        await quiet.ConnectAsync(host.EndPoint);

        // The busy one echoes a byte every 20 ms or so for over twice the timeout (a pause of a few hundred ms on a
        // loaded machine does not make it idle); the quiet one says nothing meanwhile.
        byte[] echo = new byte[1];
        Stopwatch elapsed = Stopwatch.StartNew();
        for (byte i = 0; elapsed.Elapsed < TimeSpan.FromSeconds(2.5); i++)
        {
            await busy.SendAsync(new[] { i });
            Assert.Equal(1, await busy.ReceiveAsync(echo));
            Assert.Equal(i, echo[0]);
            await Task.Delay(20);
        }

        SocketException reset = await Assert.ThrowsAsync<SocketException>(async () => await quiet.ReceiveAsync(echo));
        Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
    }

    [Fact]
    public void IdleTimeout_OutOfRange_IsRefusedNamingTheOption()
    {
        using ServiceProvider services = new ServiceCollection().BuildServiceProvider();
        ArgumentOutOfRangeException error = Assert.Throws<ArgumentOutOfRangeException>(() => new MNetServer(
            Options.Create(new MNetServerOptions { IdleTimeout = TimeSpan.Zero }), Options.Create(new MNetTransportOptions()), services, NullLoggerFactory.Instance));
        Assert.Equal("IdleTimeout", error.ParamName);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task Connect_ToAHostName_ResolvesThroughTheConfiguredDnsServers(MNetBackend backend)
    {
        await using FakeDnsServer dns = FakeDnsServer.Start();
        dns.Zone.AddAaaa("echo.mnet.test", "::1").AddA("echo.mnet.test", "127.0.0.1");
        await using ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenTcp(AnyLoopbackPort, c => c.UseConnectionHandler<EchoHandler>()));
        int port = ((IPEndPoint)host.EndPoint).Port;
        DnsResolverOptions resolver = new() { HostsFilePath = null };
        resolver.Servers.Add(dns.EndPoint);
        await using MNetConnectionFactory client = new(Options.Create(new MNetTransportOptions { Dns = resolver }), NullLoggerFactory.Instance);

        Assert.True(await EchoOnceAsync(client, new DnsEndPoint("echo.mnet.test", port), 6));
        Assert.Contains(dns.Queries, q => q.Name == "echo.mnet.test" && q.Type == DnsWire.A);

        SocketException unknown = await Assert.ThrowsAsync<SocketException>(async () => await client.ConnectAsync(new DnsEndPoint("missing.mnet.test", port)));
        Assert.Equal(SocketError.HostNotFound, unknown.SocketErrorCode);
        Assert.Contains("missing.mnet.test", unknown.Message, StringComparison.Ordinal);
    }

    private static void ListenEcho(MNetServerOptions options, string channel, string unixPath)
    {
        if (channel == "tcp")
        {
            options.ListenTcp(AnyLoopbackPort, c => c.UseConnectionHandler<EchoHandler>());
        }
        else
        {
            options.ListenUnix(unixPath, c => c.UseConnectionHandler<EchoHandler>());
        }
    }

    private static async Task<bool> EchoOnceAsync(MNetConnectionFactory client, EndPoint endPoint, int id)
    {
        await using ConnectionContext connection = await client.ConnectAsync(endPoint);
        byte[] message = BitConverter.GetBytes(id);
        await connection.Transport.Output.WriteAsync(message);
        await connection.Transport.Output.CompleteAsync();

        PipeReader input = connection.Transport.Input;
        while (true)
        {
            ReadResult read = await input.ReadAsync();
            if (read.IsCompleted)
            {
                bool match = read.Buffer.ToArray().AsSpan().SequenceEqual(message);
                input.AdvanceTo(read.Buffer.End);
                return match;
            }
            input.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }
    }

    private static async Task<string> ReadStringAsync(PipeReader input, int length)
    {
        while (true)
        {
            ReadResult read = await input.ReadAsync();
            if (read.Buffer.Length >= length || read.IsCompleted)
            {
                string text = Encoding.UTF8.GetString(read.Buffer.Slice(0, Math.Min(length, read.Buffer.Length)));
                input.AdvanceTo(read.Buffer.End);
                return text;
            }
            input.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }
    }
}
