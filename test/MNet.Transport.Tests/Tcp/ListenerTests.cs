using System.Buffers;
using System.Net;
using System.Net.Sockets;
using MNet.Transport.Hosting;
using MNet.Transport.Tests.Infrastructure;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace MNet.Transport.Tests.Tcp;

public sealed class ListenerTests
{
    [Theory]
    [MemberData(nameof(Transports.MNet), MemberType = typeof(Transports))]
    public async Task IPv6Any_IsDualStack_AndAcceptsIPv4Clients(TransportKind kind)
    {
        await using ListenerScope scope = await ListenerScope.StartAsync(kind, endPoint: new IPEndPoint(IPAddress.IPv6Any, 0));
        int port = ((IPEndPoint)scope.Listener.EndPoint).Port;

        using Socket v4 = await scope.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        await using ConnectionContext fromV4 = await scope.AcceptAsync();
        using Socket v6 = await scope.ConnectAsync(new IPEndPoint(IPAddress.IPv6Loopback, port));
        await using ConnectionContext fromV6 = await scope.AcceptAsync();

        Assert.NotEqual(0, port);
        Assert.Equal(IPAddress.Loopback.MapToIPv6(), ((IPEndPoint)fromV4.RemoteEndPoint!).Address);
        Assert.Equal(IPAddress.IPv6Loopback, ((IPEndPoint)fromV6.RemoteEndPoint!).Address);
        Assert.Equal(port, ((IPEndPoint)fromV4.LocalEndPoint!).Port);
    }

    [Theory]
    [MemberData(nameof(Transports.MNet), MemberType = typeof(Transports))]
    public async Task Unbind_EndsAccepting_WhileAcceptedConnectionsKeepWorking(TransportKind kind)
    {
        await using ListenerScope scope = await ListenerScope.StartAsync(kind);
        EndPoint endPoint = scope.Listener.EndPoint;
        using Socket client = await scope.ConnectAsync();
        ConnectionContext connection = await scope.AcceptAsync();

        await scope.Listener.UnbindAsync();

        Assert.Null(await scope.Listener.AcceptAsync());
        SocketException refused = await Assert.ThrowsAsync<SocketException>(() => scope.ConnectAsync(endPoint));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);

        await client.SendAsync(new byte[] { 1, 2, 3 });
        System.IO.Pipelines.ReadResult read = await connection.Transport.Input.ReadAsync();
        Assert.Equal(new byte[] { 1, 2, 3 }, read.Buffer.ToArray());
        connection.Transport.Input.AdvanceTo(read.Buffer.End);
        await connection.DisposeAsync();
    }

    [Theory]
    [MemberData(nameof(Transports.MNet), MemberType = typeof(Transports))]
    public async Task UnixSocket_AcceptsAndRemovesItsFileOnUnbind(TransportKind kind)
    {
        string path = Path.Combine(Path.GetTempPath(), $"mnet-{Guid.NewGuid():N}.sock");
        await using (ListenerScope scope = await ListenerScope.StartAsync(kind, o => o.LoopCount = 2, new UnixDomainSocketEndPoint(path)))
        {
            for (int i = 0; i < 4; i++)
            {
                using Socket client = await scope.ConnectAsync();
                await using ConnectionContext connection = await scope.AcceptAsync();
                await client.SendAsync(new byte[] { (byte)i });
                System.IO.Pipelines.ReadResult read = await connection.Transport.Input.ReadAsync();
                Assert.Equal((byte)i, read.Buffer.FirstSpan[0]);
                connection.Transport.Input.AdvanceTo(read.Buffer.End);
            }
            Assert.True(File.Exists(path));
        }
        Assert.False(File.Exists(path));
    }

    [Theory]
    [MemberData(nameof(Transports.MNet), MemberType = typeof(Transports))]
    public async Task FactoryDispose_AbortsOpenConnections_AndLeavesNoThreadOrDescriptor(TransportKind kind)
    {
        await (await ListenerScope.StartAsync(kind)).DisposeAsync(); // loads what the scope needs
        int fdBaseline = ProcessResources.OpenFileDescriptors;
        int loopBaseline = ProcessResources.LoopThreads;
        MNetTransportFactory factory = new(Options.Create(new MNetTransportOptions { LoopCount = 2, Backend = kind.Backend() }), NullLoggerFactory.Instance);
        IConnectionListener listener = await factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
        using Socket client = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.EndPoint);
        ConnectionContext? connection = await listener.AcceptAsync();
        Assert.NotNull(connection);
        Assert.Equal(loopBaseline + 2, ProcessResources.LoopThreads);

        await factory.DisposeAsync();

        await Assert.ThrowsAsync<SocketException>(async () => await client.ReceiveAsync(new byte[1]));
        await connection.DisposeAsync();
        await listener.DisposeAsync();
        client.Close();
        await ProcessResources.AssertLoopThreadsSettleToAsync(loopBaseline);
        int remaining = await ProcessResources.SettleAsync(() => ProcessResources.OpenFileDescriptors, fdBaseline);
        Assert.True(remaining <= fdBaseline, $"{remaining} descriptors open, {fdBaseline} before: {ProcessResources.DescribeFileDescriptors()}");
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0)));
    }

    [Fact]
    public void CanBind_ServesIPUnixAndSocketHandleEndPoints_AndDeclinesTheRest()
    {
        MNetTransportFactory factory = new(Options.Create(new MNetTransportOptions()), NullLoggerFactory.Instance);

        Assert.True(factory.CanBind(new IPEndPoint(IPAddress.Loopback, 0)));
        Assert.True(factory.CanBind(new IPEndPoint(IPAddress.IPv6Any, 0)));
        Assert.True(factory.CanBind(new UnixDomainSocketEndPoint("/tmp/x.sock")));
        Assert.False(factory.CanBind(new DnsEndPoint("localhost", 80)));
        Assert.True(factory.CanBind(new FileHandleEndPoint(3, FileHandleType.Auto)));
        Assert.False(factory.CanBind(new FileHandleEndPoint(3, FileHandleType.Pipe)));
    }

    [Fact]
    public void Backend_OutOfRange_IsRefusedNamingTheOption()
    {
        MNetTransportOptions options = new() { Backend = (MNetBackend)42 };

        ArgumentOutOfRangeException error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            new MNetTransportFactory(Options.Create(options), NullLoggerFactory.Instance));

        Assert.Equal(nameof(MNetTransportOptions.Backend), error.ParamName);
        Assert.Contains("Auto, Epoll, Portable, IoUring", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void IoUring_WhereTheKernelRefusesIt_FailsAtCreation_WithTheReason()
    {
        MNetTransportOptions refused = new() { Backend = MNetBackend.IoUring, RefuseIoUringForTesting = true };

        PlatformNotSupportedException error = Assert.Throws<PlatformNotSupportedException>(() =>
            new MNetTransportFactory(Options.Create(refused), NullLoggerFactory.Instance));

        Assert.Contains("io_uring_setup", error.Message, StringComparison.Ordinal);
        Assert.Contains("kernel.io_uring_disabled", error.Message, StringComparison.Ordinal);
        Assert.Contains("epoll", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Auto_WhereTheKernelRefusesIoUring_LogsWhyOnce_AndServesOnEpoll()
    {
        using RecordingLoggerProvider logs = new();
        using ILoggerFactory loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(logs));
        MNetTransportOptions options = new() { RefuseIoUringForTesting = true };

        (string first, string second) = await AcceptedConnectionTypesAsync(new MNetTransportFactory(Options.Create(options), loggerFactory));

        string epoll = TransportKind.Epoll.ConnectionTypeName();
        Assert.Equal((epoll, epoll), (first, second));
        LogEntry refusal = Assert.Single(logs.Logger.Entries, e => e.Message.Contains("io_uring", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Information, refusal.Level);
        Assert.Contains("runs on epoll", refusal.Message, StringComparison.Ordinal);
        Assert.Contains("io_uring_setup", refusal.Message, StringComparison.Ordinal); // the kernel's reason
    }

    [Fact]
    public async Task Auto_WhereTheKernelGivesIoUring_ServesOnIt_AndLogsNothingAboutIt()
    {
        using RecordingLoggerProvider logs = new();
        using ILoggerFactory loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(logs));

        (string first, string second) = await AcceptedConnectionTypesAsync(new MNetTransportFactory(Options.Create(new MNetTransportOptions()), loggerFactory));

        Assert.True(TransportRuntime.IsEpollAvailable); // Linux x64, whose kernel here (6.x) allows io_uring
        string ioUring = TransportKind.IoUring.ConnectionTypeName();
        Assert.Equal((ioUring, ioUring), (first, second));
        Assert.DoesNotContain(logs.Logger.Entries, e => e.Message.Contains("io_uring", StringComparison.Ordinal));
    }

    /// <summary>Binds twice on <paramref name="factory"/> and names the type of the connection each listener accepts.</summary>
    private static async Task<(string First, string Second)> AcceptedConnectionTypesAsync(MNetTransportFactory factory)
    {
        await using (factory)
        {
            return (await AcceptOneAsync(), await AcceptOneAsync());
        }

        async Task<string> AcceptOneAsync()
        {
            IConnectionListener listener = await factory.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
            try
            {
                using Socket client = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await client.ConnectAsync(listener.EndPoint);
                await using ConnectionContext connection = (await listener.AcceptAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)))!;
                return connection.GetType().Name;
            }
            finally
            {
                await listener.UnbindAsync();
                await listener.DisposeAsync();
            }
        }
    }

    public static TheoryData<TransportKind, bool> BackendsAndNoDelay => new()
    {
        { TransportKind.Epoll, true }, { TransportKind.Epoll, false },
        { TransportKind.Portable, true }, { TransportKind.Portable, false },
        { TransportKind.IoUring, true }, { TransportKind.IoUring, false },
    };

    [Theory]
    [MemberData(nameof(BackendsAndNoDelay))]
    public async Task AcceptedTcpSockets_HaveNoDelayAsConfigured(TransportKind kind, bool noDelay)
    {
        await using ListenerScope scope = await ListenerScope.StartAsync(kind, o => o.NoDelay = noDelay);
        using Socket client = await scope.ConnectAsync();
        await using ConnectionContext connection = await scope.AcceptAsync();

        Assert.Equal(noDelay, NoDelayOf(AcceptedDescriptor(client)));
    }

    [Theory]
    [MemberData(nameof(Transports.MNet), MemberType = typeof(Transports))]
    public async Task AcceptedFromAnInheritedListener_HaveNoDelay_AndTheListenerIsLeftAsItWas(TransportKind kind)
    {
        int listenFd = MNet.Transport.Tcp.ListenSocket.Open(new IPEndPoint(IPAddress.Loopback, 0), 16, reusePort: false, noDelay: false);
        EndPoint bound = MNet.Transport.Native.SockAddr.GetSockName(listenFd, AddressFamily.InterNetwork)!;
        await using ListenerScope scope = await ListenerScope.StartAsync(kind, endPoint: new FileHandleEndPoint((ulong)listenFd, FileHandleType.Tcp));
        using Socket client = await scope.ConnectAsync(bound);
        await using ConnectionContext connection = await scope.AcceptAsync();

        Assert.True(NoDelayOf(AcceptedDescriptor(client)));
        Assert.False(NoDelayOf(listenFd)); // other processes may share an inherited listener
    }

    private static bool NoDelayOf(int fd)
        => MNet.Transport.Native.Libc.GetIntOption(fd, MNet.Transport.Native.Libc.IPPROTO_TCP, MNet.Transport.Native.Libc.TCP_NODELAY) != 0;

    /// <summary>This process's descriptor of the server side of <paramref name="client"/>'s connection.</summary>
    private static int AcceptedDescriptor(Socket client)
    {
        EndPoint clientEnd = client.LocalEndPoint!;
        foreach (string entry in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            if (int.TryParse(Path.GetFileName(entry), out int fd)
                && new FileInfo(entry).LinkTarget is { } target && target.StartsWith("socket:", StringComparison.Ordinal))
            {
                try
                {
                    if (clientEnd.Equals(MNet.Transport.Native.SockAddr.GetPeerName(fd, AddressFamily.InterNetwork)))
                    {
                        return fd;
                    }
                }
                catch (SocketException)
                {
                    // Not a connected socket (a listener, a datagram socket, another family).
                }
            }
        }
        throw new InvalidOperationException($"No descriptor of this process is connected to {clientEnd}.");
    }

    [Theory]
    [InlineData(nameof(MNetTransportOptions.LoopCount))]
    [InlineData(nameof(MNetTransportOptions.Backlog))]
    [InlineData(nameof(MNetTransportOptions.MaxReadBufferSize))]
    [InlineData(nameof(MNetTransportOptions.MaxWriteBufferSize))]
    public void InvalidOptions_AreRejectedNamingTheOption(string option)
    {
        MNetTransportOptions options = new();
        typeof(MNetTransportOptions).GetProperty(option)!.SetValue(options, option.StartsWith("Max", StringComparison.Ordinal) ? (object)(long?)-1L : (object)0);

        ArgumentOutOfRangeException error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            new MNetTransportFactory(Options.Create(options), NullLoggerFactory.Instance));

        Assert.Equal(option, error.ParamName);
    }
}
