using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MNet.Transport.Dns;
using MNet.Transport.Hosting;
using MNet.Transport.Tests.Infrastructure;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging.Abstractions;

namespace MNet.Transport.Tests.Loop;

/// <summary>Pull mode: <see cref="MNetEventLoop"/> driven by one thread's <see cref="MNetEventLoop.RunOnce"/> calls.</summary>
public sealed class CallerDrivenLoopTests
{
    private static readonly IPEndPoint AnyLoopbackPort = new(IPAddress.Loopback, 0);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task OneThread_RunsServerAndClient_AndEveryContinuationRunsInsideRunOnce(MNetBackend backend)
        => await EchoOnOneThreadAsync(backend, TimeSpan.FromMilliseconds(100));

    // A caller that polls (RunOnce with no wait) gets its I/O too: on io_uring with deferred task work the kernel
    // posts completions only when the loop enters the ring, so a pass that submits nothing must still enter.
    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task Polling_WithRunOnceZero_ServesTheSameEcho(MNetBackend backend)
        => await EchoOnOneThreadAsync(backend, TimeSpan.Zero);

    private static async Task EchoOnOneThreadAsync(MNetBackend backend, TimeSpan pollTimeout)
    {
        const int Messages = 200;
        (string echoed, HashSet<int> threads, int driver) = await OnOwnThread(() =>
        {
            int driver = Environment.CurrentManagedThreadId;
            HashSet<int> threads = [];
            using MNetEventLoop loop = new(new MNetTransportOptions { Backend = backend }, NullLoggerFactory.Instance);
            IConnectionListener listener = Bind(loop);

            async Task ServeOneAsync()
            {
                await using ConnectionContext connection = (await listener.AcceptAsync())!;
                threads.Add(Environment.CurrentManagedThreadId);
                while (true)
                {
                    ReadResult read = await connection.Transport.Input.ReadAsync();
                    threads.Add(Environment.CurrentManagedThreadId);
                    foreach (ReadOnlyMemory<byte> segment in read.Buffer)
                    {
                        await connection.Transport.Output.WriteAsync(segment);
                    }
                    connection.Transport.Input.AdvanceTo(read.Buffer.End);
                    if (read.IsCompleted)
                    {
                        break;
                    }
                }
            }

            async Task<string> ClientAsync()
            {
                await using ConnectionContext connection = await loop.ConnectAsync(listener.EndPoint);
                threads.Add(Environment.CurrentManagedThreadId);
                for (int i = 0; i < Messages; i++)
                {
                    await connection.Transport.Output.WriteAsync(Encoding.ASCII.GetBytes($"{i};"));
                    threads.Add(Environment.CurrentManagedThreadId);
                }
                await connection.Transport.Output.CompleteAsync();
                byte[] reply = await PipeDrain.ReadToEndAsync(connection.Transport.Input);
                threads.Add(Environment.CurrentManagedThreadId);
                return Encoding.ASCII.GetString(reply);
            }

            Task server = ServeOneAsync();
            Task<string> client = ClientAsync();
            RunUntil(loop, Task.WhenAll(server, client), pollTimeout);
            RunUntil(loop, listener.UnbindAsync().AsTask(), pollTimeout);
            return (client.Result, threads, driver);
        });

        Assert.Equal(string.Concat(Enumerable.Range(0, Messages).Select(i => $"{i};")), echoed);
        Assert.Equal([driver], threads);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task RunOnce_IsWokenByWorkPostedFromAnotherThread(MNetBackend backend)
    {
        int ranOn = await OnOwnThread(() =>
        {
            using MNetEventLoop loop = new(new MNetTransportOptions { Backend = backend }, NullLoggerFactory.Instance);
            int ranOn = 0;
            async Task AfterATimerAsync()
            {
                await Task.Delay(30); // completes on a timer thread and posts back to the loop
                ranOn = Environment.CurrentManagedThreadId;
            }

            Task pending = AfterATimerAsync();
            while (!pending.IsCompleted)
            {
                loop.RunOnce(Timeout.InfiniteTimeSpan); // returns only because the post wakes the wait
            }
            return ranOn;
        });

        Assert.NotEqual(0, ranOn);
    }

    [Fact]
    public async Task RunOnce_ReturnsZero_WhenNothingHappensWithinTheTimeout()
    {
        int handled = await OnOwnThread(() =>
        {
            using MNetEventLoop loop = new();
            loop.RunOnce(TimeSpan.Zero); // anything the constructor queued
            return loop.RunOnce(TimeSpan.FromMilliseconds(20));
        });

        Assert.Equal(0, handled);
    }

    [Fact]
    public async Task DelayPeriodicTimerAndCancellationTokenSource_OnItsTimeProvider_RunInsideRunOnce()
    {
        List<string> steps = await OnOwnThread(() =>
        {
            using MNetEventLoop loop = new();
            TimeProvider time = loop.TimeProvider;
            int driver = Environment.CurrentManagedThreadId;
            List<string> steps = [];

            async Task ScenarioAsync()
            {
                long start = time.GetTimestamp();
                await Task.Delay(TimeSpan.FromMilliseconds(20), time);
                Assert.True(time.GetElapsedTime(start) >= TimeSpan.FromMilliseconds(20));
                steps.Add($"delay on driver: {Environment.CurrentManagedThreadId == driver}");

                using PeriodicTimer periodic = new(TimeSpan.FromMilliseconds(5), time);
                for (int i = 0; i < 3; i++)
                {
                    Assert.True(await periodic.WaitForNextTickAsync());
                }
                steps.Add($"periodic on driver: {Environment.CurrentManagedThreadId == driver}");

                using CancellationTokenSource cts = new(TimeSpan.FromMilliseconds(10), time);
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Task.Delay(Timeout.Infinite, cts.Token));
                steps.Add($"cancel on driver: {Environment.CurrentManagedThreadId == driver}");
            }

            Task scenario = ScenarioAsync();
            long deadline = Environment.TickCount64 + (long)Deadline.TotalMilliseconds;
            while (!scenario.IsCompleted && Environment.TickCount64 < deadline)
            {
                loop.RunOnce(Timeout.InfiniteTimeSpan); // nothing but a due timer can end this wait
            }
            Assert.True(scenario.IsCompleted, "the timers never woke the loop");
            scenario.GetAwaiter().GetResult();
            return steps;
        });

        Assert.Equal(["delay on driver: True", "periodic on driver: True", "cancel on driver: True"], steps);
    }

    [Fact]
    public async Task TheLoopBelongsToItsThread_AndRejectsMisuse_WithClearErrors()
    {
        SynchronizationContext previous = new();
        var outcome = await OnOwnThread(() =>
        {
            SynchronizationContext.SetSynchronizationContext(previous);
            MNetEventLoop loop = new();
            SynchronizationContext installed = SynchronizationContext.Current!;
            Exception? reentrant = null;
            installed.Post(_ => reentrant = Record.Exception(() => loop.RunOnce(TimeSpan.Zero)), null);
            loop.RunOnce(TimeSpan.FromSeconds(5));
            Exception? otherThread = Task.Run(() => Record.Exception(() => loop.RunOnce(TimeSpan.Zero))).GetAwaiter().GetResult();
            Exception? negative = Record.Exception(() => loop.RunOnce(TimeSpan.FromMilliseconds(-5)));
            Exception? disposeElsewhere = Task.Run(() => Record.Exception(loop.Dispose)).GetAwaiter().GetResult();
            int stillRunning = loop.RunOnce(TimeSpan.Zero);
            loop.Dispose();
            Exception? afterDispose = Record.Exception(() => loop.RunOnce(TimeSpan.Zero));
            return (installed, reentrant, otherThread, negative, disposeElsewhere, stillRunning, restored: SynchronizationContext.Current, afterDispose);
        });

        Assert.NotSame(previous, outcome.installed);
        Assert.Contains("RunOnce", Assert.IsType<InvalidOperationException>(outcome.reentrant).Message, StringComparison.Ordinal);
        Assert.Contains("thread that created it", Assert.IsType<InvalidOperationException>(outcome.otherThread).Message, StringComparison.Ordinal);
        Assert.Equal("timeout", Assert.IsType<ArgumentOutOfRangeException>(outcome.negative).ParamName);
        Assert.IsType<InvalidOperationException>(outcome.disposeElsewhere);
        Assert.Equal(0, outcome.stillRunning); // the refused Dispose changed nothing
        Assert.Same(previous, outcome.restored);
        Assert.IsType<ObjectDisposedException>(outcome.afterDispose);
    }

    [Fact]
    public async Task Dispose_ClosesOpenConnectionsAndListeners_AndLeaksNoDescriptor()
    {
        int baseline = ProcessResources.OpenFileDescriptors;
        using Socket peer = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        EndPoint bound = null!;

        await OnOwnThread(() =>
        {
            using MNetEventLoop loop = new();
            IConnectionListener listener = Bind(loop);
            bound = listener.EndPoint;
            peer.Connect(bound);
            ValueTask<ConnectionContext?> accept = listener.AcceptAsync();
            RunUntil(loop, accept.AsTask());
            return 0; // the loop is disposed with the connection and the listener still open
        });

        byte[] buffer = new byte[16];
        peer.ReceiveTimeout = (int)Deadline.TotalMilliseconds;
        Assert.Equal(0, ReceiveOrZeroOnReset(peer, buffer));
        using Socket late = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        SocketException refused = Assert.Throws<SocketException>(() => late.Connect(bound));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        peer.Dispose();
        late.Dispose();
        int open = await ProcessResources.SettleAsync(() => ProcessResources.OpenFileDescriptors, baseline);
        Assert.True(open <= baseline, $"{open} descriptors open, {baseline} before: {ProcessResources.DescribeFileDescriptors()}");
    }

    private static int ReceiveOrZeroOnReset(Socket socket, byte[] buffer)
    {
        try
        {
            return socket.Receive(buffer);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            return 0;
        }
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task ConnectingToADnsEndPoint_ResolvesWithoutStartingAnotherLoopThread(MNetBackend backend)
    {
        await using FakeDnsServer dns = FakeDnsServer.Start();
        dns.Zone.AddA("echo.test", "127.0.0.1");
        int loopThreads = ProcessResources.LoopThreads;

        (bool accepted, int loopThreadsWhileConnected) = await OnOwnThread(() =>
        {
            MNetTransportOptions options = new() { Backend = backend, Dns = new DnsResolverOptions() };
            options.Dns.Servers.Add(dns.EndPoint);
            using MNetEventLoop loop = new(options, NullLoggerFactory.Instance);
            IConnectionListener listener = Bind(loop);
            int port = ((IPEndPoint)listener.EndPoint).Port;

            async Task<(bool, int)> ConnectAsync()
            {
                await using ConnectionContext connection = await loop.ConnectAsync(new DnsEndPoint("echo.test", port));
                await using ConnectionContext? served = await listener.AcceptAsync();
                return (served is not null, ProcessResources.LoopThreads);
            }

            Task<(bool, int)> connecting = ConnectAsync();
            RunUntil(loop, connecting);
            RunUntil(loop, listener.UnbindAsync().AsTask());
            return connecting.Result;
        });

        Assert.True(accepted);
        Assert.Equal(loopThreads, loopThreadsWhileConnected); // the lookup ran on the caller's loop, not on a loop of its own
    }

    private static IConnectionListener Bind(MNetEventLoop loop)
    {
        ValueTask<IConnectionListener> bind = loop.BindAsync(AnyLoopbackPort);
        return bind.IsCompletedSuccessfully ? bind.Result : throw new Xunit.Sdk.XunitException("Binding should complete at once, without RunOnce.");
    }

    private static void RunUntil(MNetEventLoop loop, Task task, TimeSpan? pollTimeout = null)
    {
        DateTime until = DateTime.UtcNow + Deadline;
        while (!task.IsCompleted)
        {
            Assert.True(DateTime.UtcNow < until, "The work did not complete inside RunOnce in time.");
            loop.RunOnce(pollTimeout ?? TimeSpan.FromMilliseconds(100));
        }
        task.GetAwaiter().GetResult(); // rethrows a failure
    }

    /// <summary>Runs <paramref name="body"/> on a new thread with no synchronization context: the loop's owner.</summary>
    private static Task<T> OnOwnThread<T>(Func<T> body)
    {
        TaskCompletionSource<T> result = new(TaskCreationOptions.RunContinuationsAsynchronously);
        Thread thread = new(() =>
        {
            try
            {
                result.SetResult(body());
            }
            catch (Exception ex)
            {
                result.SetException(ex);
            }
        })
        {
            IsBackground = true,
            Name = "pull-mode test",
        };
        thread.Start();
        return result.Task.WaitAsync(Deadline * 2);
    }
}
