using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using MNet.Transport.Hosting;
using MNet.Transport.Tests.Infrastructure;
using MNet.Transport.Tls;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace MNet.Transport.Tests.Tls;

/// <summary>TLS connection middleware on the standalone server and TLS client connections, with real SslStreams on both ends.</summary>
public sealed class TlsTests
{
    private static readonly IPEndPoint AnyLoopbackPort = new(IPAddress.Loopback, 0);
    private static readonly X509Certificate2 ServerCertificate = TestCertificates.Server("localhost");

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task APattern_IsEchoedIntactThroughTls_AndTheHandshakeIsReportedOnBothSides(MNetBackend backend)
    {
        const int Length = 8 * 1024 * 1024;
        SslProtocols serverSaw = SslProtocols.None;
        await using ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenTcp(AnyLoopbackPort, c => c
            .UseTls(ServerCertificate)
            .Use(next => connection =>
            {
                serverSaw = connection.Features.GetRequiredFeature<ITlsHandshakeFeature>().Protocol;
                return next(connection);
            })
            .UseConnectionHandler<EchoHandler>()));
        await using MNetConnectionFactory factory = Transports.CreateClient(backend);

        await using ConnectionContext connection = await factory.ConnectTlsAsync(host.EndPoint, TrustOnly(ServerCertificate));
        Task writing = BytePattern.WriteAsync(connection.Transport.Output, Length);
        Assert.Equal(Length, await BytePattern.ReadAndVerifyAsync(connection.Transport.Input, Length));
        await writing;

        SslProtocols clientSaw = connection.Features.GetRequiredFeature<ITlsHandshakeFeature>().Protocol;
        Assert.Contains(clientSaw, new[] { SslProtocols.Tls12, SslProtocols.Tls13 });
        Assert.Equal(clientSaw, serverSaw);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task Sni_PicksTheCertificateForTheHostNameAsked(MNetBackend backend)
    {
        X509Certificate2 alpha = TestCertificates.Server("alpha.test");
        X509Certificate2 beta = TestCertificates.Server("beta.test");
        await using ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenTcp(AnyLoopbackPort, c => c
            .UseTls(new TlsServerOptions
            {
                ServerCertificateSelector = (_, hostName) => hostName switch { "alpha.test" => alpha, "beta.test" => beta, _ => null },
            })
            .UseConnectionHandler<EchoHandler>()));
        await using MNetConnectionFactory factory = Transports.CreateClient(backend);

        foreach (X509Certificate2 expected in new[] { alpha, beta })
        {
            await using ConnectionContext connection = await factory.ConnectTlsAsync(host.EndPoint, TrustOnly(expected, expected.GetNameInfo(X509NameType.DnsName, false)));
            await EchoOnceAsync(connection);
        }
        await using MNetConnectionFactory other = Transports.CreateClient(backend);
        await Assert.ThrowsAsync<AuthenticationException>(async () => await other.ConnectTlsAsync(host.EndPoint, TrustOnly(alpha, "gamma.test")));
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task Alpn_NegotiatesTheProtocolBothSidesSpeak(MNetBackend backend)
    {
        SslApplicationProtocol echo = new("echo/1");
        string? serverSaw = null;
        TlsServerOptions options = new() { ServerCertificate = ServerCertificate };
        options.ApplicationProtocols.AddRange([SslApplicationProtocol.Http2, echo]);
        await using ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenTcp(AnyLoopbackPort, c => c
            .UseTls(options)
            .Use(next => connection =>
            {
                serverSaw = System.Text.Encoding.ASCII.GetString(connection.Features.GetRequiredFeature<ITlsApplicationProtocolFeature>().ApplicationProtocol.Span);
                return next(connection);
            })
            .UseConnectionHandler<EchoHandler>()));
        await using MNetConnectionFactory factory = Transports.CreateClient(backend);
        SslClientAuthenticationOptions client = TrustOnly(ServerCertificate);
        client.ApplicationProtocols = [echo];

        await using ConnectionContext connection = await factory.ConnectTlsAsync(host.EndPoint, client);
        await EchoOnceAsync(connection);

        Assert.Equal("echo/1", System.Text.Encoding.ASCII.GetString(connection.Features.GetRequiredFeature<ITlsApplicationProtocolFeature>().ApplicationProtocol.Span));
        Assert.Equal("echo/1", serverSaw);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task ARequiredClientCertificate_RefusesAClientWithoutOne_AndAcceptsTheTrustedOne(MNetBackend backend)
    {
        X509Certificate2 trusted = TestCertificates.Client("trusted");
        X509Certificate2 stranger = TestCertificates.Client("stranger");
        string? serverSaw = null;
        await using ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenTcp(AnyLoopbackPort, c => c
            .UseTls(new TlsServerOptions
            {
                ServerCertificate = ServerCertificate,
                ClientCertificateMode = ClientCertificateMode.RequireCertificate,
                CheckCertificateRevocation = false,
                ClientCertificateValidation = (certificate, _, _) => certificate.Thumbprint == trusted.Thumbprint,
            })
            .Use(next => connection =>
            {
                serverSaw = connection.Features.GetRequiredFeature<ITlsConnectionFeature>().ClientCertificate?.Subject;
                return next(connection);
            })
            .UseConnectionHandler<EchoHandler>()));
        await using MNetConnectionFactory factory = Transports.CreateClient(backend);

        await AssertRefusedAsync(factory, host.EndPoint, TrustOnly(ServerCertificate));
        SslClientAuthenticationOptions withStranger = TrustOnly(ServerCertificate);
        withStranger.ClientCertificates = [stranger];
        await AssertRefusedAsync(factory, host.EndPoint, withStranger);

        SslClientAuthenticationOptions withTrusted = TrustOnly(ServerCertificate);
        withTrusted.ClientCertificates = [trusted];
        await using ConnectionContext connection = await factory.ConnectTlsAsync(host.EndPoint, withTrusted);
        await EchoOnceAsync(connection);
        Assert.Equal("CN=trusted", serverSaw);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task UntrustedAndExpiredCertificates_AreRefusedByTheClient_SayingWhy(MNetBackend backend)
    {
        X509Certificate2 expired = TestCertificates.Server("localhost", DateTimeOffset.UtcNow.AddDays(-10), DateTimeOffset.UtcNow.AddDays(-1));
        await using ServerHost host = await ServerHost.StartAsync(backend, o => o
            .ListenTcp(AnyLoopbackPort, c => c.UseTls(ServerCertificate).UseConnectionHandler<EchoHandler>())
            .ListenTcp(AnyLoopbackPort, c => c.UseTls(expired).UseConnectionHandler<EchoHandler>()));
        await using MNetConnectionFactory factory = Transports.CreateClient(backend);

        // The system's default validation: a self-signed certificate is not trusted.
        AuthenticationException untrusted = await Assert.ThrowsAsync<AuthenticationException>(async () =>
            await factory.ConnectTlsAsync(host.Server.EndPoints[0], new SslClientAuthenticationOptions { TargetHost = "localhost" }));
        Assert.Contains("UntrustedRoot", untrusted.Message + untrusted.InnerException?.Message, StringComparison.Ordinal);

        // Trusted by pinning, but out of date: the chain errors say so.
        SslClientAuthenticationOptions pinnedButTimed = new()
        {
            TargetHost = "localhost",
            RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
                errors == SslPolicyErrors.None || chain!.ChainStatus.All(s => s.Status == X509ChainStatusFlags.UntrustedRoot),
        };
        AuthenticationException outOfDate = await Assert.ThrowsAsync<AuthenticationException>(async () =>
            await factory.ConnectTlsAsync(host.Server.EndPoints[1], pinnedButTimed));
        Assert.Contains("certificate", outOfDate.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task BadClients_CloseOnlyTheirOwnConnections_EachLoggedOnce_AndTheServerServesOthers(MNetBackend backend)
    {
        await using ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenTcp(AnyLoopbackPort, c => c
            .UseTls(new TlsServerOptions { ServerCertificate = ServerCertificate, HandshakeTimeout = TimeSpan.FromSeconds(2) })
            .UseConnectionHandler<EchoHandler>()));
        IPEndPoint endPoint = (IPEndPoint)host.EndPoint;
        int baseline = ProcessResources.OpenFileDescriptors;

        byte[] random = new byte[4096];
        new Random(7).NextBytes(random);
        byte[] clientHelloStart = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03]; // a record header promising 512 bytes
        await AssertClosedByServerAsync(endPoint, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"u8.ToArray(), closeAfterSending: false);
        await AssertClosedByServerAsync(endPoint, random, closeAfterSending: false);
        await AssertClosedByServerAsync(endPoint, [], closeAfterSending: false); // says nothing: the handshake timeout closes it
        await AssertClosedByServerAsync(endPoint, clientHelloStart, closeAfterSending: true); // leaves mid-handshake
        int open = await ProcessResources.SettleAsync(() => ProcessResources.OpenFileDescriptors, baseline);
        Assert.True(open <= baseline, $"{open} descriptors open, {baseline} before: {ProcessResources.DescribeFileDescriptors()}");

        await using MNetConnectionFactory factory = Transports.CreateClient(backend);
        await using (ConnectionContext connection = await factory.ConnectTlsAsync(host.EndPoint, TrustOnly(ServerCertificate)))
        {
            await EchoOnceAsync(connection);
        }
        LogEntry[] failures = [.. host.Log.Entries.Where(e => e.EventId.Name is "TlsHandshakeFailed" or "TlsHandshakeTimedOut")];
        Assert.Equal(4, failures.Length);
        Assert.Single(failures, e => e.EventId.Name == "TlsHandshakeTimedOut");
        Assert.True(host.Log.Entries.All(e => e.Level < Microsoft.Extensions.Logging.LogLevel.Warning), string.Join("; ", host.Log.Entries));
        Assert.Equal(0, await ProcessResources.SettleAsync(() => host.Server.ConnectionCount, 0));
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task APeerThatClosesWithoutCloseNotify_FailsTheInput_WhileACleanCloseEndsIt(MNetBackend backend)
    {
        TaskCompletionSource<Exception?> ending = new(TaskCreationOptions.RunContinuationsAsynchronously);
        string? received = null;
        await using ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenTcp(AnyLoopbackPort, c => c
            .UseTls(ServerCertificate)
            .Run(async connection =>
            {
                try
                {
                    received = System.Text.Encoding.ASCII.GetString(await PipeDrain.ReadToEndAsync(connection.Transport.Input));
                    ending.TrySetResult(null);
                }
                catch (IOException ex)
                {
                    ending.TrySetResult(ex);
                }
            })));

        using (Socket socket = await ConnectSocketAsync(host.EndPoint))
        await using (SslStream tls = new(new NetworkStream(socket), leaveInnerStreamOpen: true))
        {
            await tls.AuthenticateAsClientAsync(TrustOnly(ServerCertificate));
            await tls.WriteAsync("cut short"u8.ToArray());
            await tls.FlushAsync();
            socket.Shutdown(SocketShutdown.Send); // FIN without close_notify
            Exception? truncated = await ending.Task.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Contains("close_notify", Assert.IsType<IOException>(truncated).Message, StringComparison.Ordinal);
        }

        ending = new(TaskCreationOptions.RunContinuationsAsynchronously);
        await using MNetConnectionFactory factory = Transports.CreateClient(backend);
        ConnectionContext clean = await factory.ConnectTlsAsync(host.EndPoint, TrustOnly(ServerCertificate));
        await clean.Transport.Output.WriteAsync("whole"u8.ToArray());
        await clean.DisposeAsync(); // close_notify, then FIN
        Assert.Null(await ending.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("whole", received);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task AnOutputEndedByAnError_IsNotClosedWithCloseNotify_SoThePeerSeesItCutShort(MNetBackend backend)
    {
        await using ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenTcp(AnyLoopbackPort, c => c
            .UseTls(ServerCertificate)
            .Run(async connection =>
            {
                await connection.Transport.Output.WriteAsync("partial"u8.ToArray());
                await connection.Transport.Output.CompleteAsync(new InvalidOperationException("the response failed halfway"));
            })));
        await using MNetConnectionFactory factory = Transports.CreateClient(backend);
        await using ConnectionContext connection = await factory.ConnectTlsAsync(host.EndPoint, TrustOnly(ServerCertificate));

        // The error comes with the data or after it; the pipe reports it as soon as it is there.
        IOException cut = await Assert.ThrowsAsync<IOException>(() => PipeDrain.ReadToEndAsync(connection.Transport.Input));
        Assert.Contains("close_notify", cut.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task ASynchronousComplete_DeliversWhatWasWritten_ThenClosesCleanly(MNetBackend backend)
    {
        await using ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenTcp(AnyLoopbackPort, c => c
            .UseTls(ServerCertificate)
            .Run(connection =>
            {
                PipeWriter output = connection.Transport.Output;
                "written, never flushed"u8.CopyTo(output.GetSpan(64));
                output.Advance("written, never flushed".Length);
                output.Complete();
                return Task.CompletedTask;
            })));
        await using MNetConnectionFactory factory = Transports.CreateClient(backend);
        await using ConnectionContext connection = await factory.ConnectTlsAsync(host.EndPoint, TrustOnly(ServerCertificate));

        byte[] all = await PipeDrain.ReadToEndAsync(connection.Transport.Input).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("written, never flushed", System.Text.Encoding.ASCII.GetString(all));
        Assert.True(host.Log.Entries.All(e => e.Level < Microsoft.Extensions.Logging.LogLevel.Warning), string.Join("; ", host.Log.Entries));
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task CompletingTheOutput_EndsThePeersInput_WhileTheOtherDirectionStaysOpen(MNetBackend backend)
    {
        // As a TCP output's completion sends FIN: the server reads the client's bytes to their end, then answers.
        await using ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenTcp(AnyLoopbackPort, c => c
            .UseTls(ServerCertificate)
            .Run(async connection =>
            {
                long received = await BytePattern.ReadAndVerifyAsync(connection.Transport.Input);
                await connection.Transport.Output.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"got {received}"));
            })));
        await using MNetConnectionFactory factory = Transports.CreateClient(backend);
        await using ConnectionContext connection = await factory.ConnectTlsAsync(host.EndPoint, TrustOnly(ServerCertificate));

        await BytePattern.WriteAsync(connection.Transport.Output, 1_000_000);
        await connection.Transport.Output.CompleteAsync();
        byte[] answer = await PipeDrain.ReadToEndAsync(connection.Transport.Input).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal("got 1000000", System.Text.Encoding.ASCII.GetString(answer));
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task AHandlerThatStopsReading_StillClosesItsConnection(MNetBackend backend)
    {
        await using ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenTcp(AnyLoopbackPort, c => c
            .UseTls(ServerCertificate)
            .Run(_ => Task.CompletedTask))); // returns at once while the client goes on sending
        await using MNetConnectionFactory factory = Transports.CreateClient(backend);
        await using ConnectionContext connection = await factory.ConnectTlsAsync(host.EndPoint, TrustOnly(ServerCertificate));

        Task sending = BytePattern.WriteAsync(connection.Transport.Output, 1024 * 1024);
        Assert.Equal(0, await ProcessResources.SettleAsync(() => host.Server.ConnectionCount, 0));
        await Record.ExceptionAsync(() => sending); // the server is gone; how the writes end is not the point
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task ABadRecordAfterTheHandshake_FailsThatInput_WithoutAnErrorLogOrALeak(MNetBackend backend)
    {
        TaskCompletionSource<Exception?> ending = new(TaskCreationOptions.RunContinuationsAsynchronously);
        await using ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenTcp(AnyLoopbackPort, c => c
            .UseTls(ServerCertificate)
            .Run(async connection =>
            {
                try
                {
                    await PipeDrain.ReadToEndAsync(connection.Transport.Input);
                    ending.TrySetResult(null);
                }
                catch (IOException ex)
                {
                    ending.TrySetResult(ex);
                }
            })));
        int baseline = ProcessResources.OpenFileDescriptors;

        using (Socket socket = await ConnectSocketAsync(host.EndPoint))
        await using (SslStream tls = new(new NetworkStream(socket), leaveInnerStreamOpen: true))
        {
            await tls.AuthenticateAsClientAsync(TrustOnly(ServerCertificate));
            byte[] forged = [0x17, 0x03, 0x03, 0x00, 0x20, .. new byte[32]]; // application data that fails decryption
            await socket.SendAsync(forged);
            Assert.IsType<IOException>(await ending.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        }

        Assert.Equal(0, await ProcessResources.SettleAsync(() => host.Server.ConnectionCount, 0));
        int open = await ProcessResources.SettleAsync(() => ProcessResources.OpenFileDescriptors, baseline);
        Assert.True(open <= baseline, $"{open} descriptors open, {baseline} before");
        Assert.True(host.Log.Entries.All(e => e.Level < Microsoft.Extensions.Logging.LogLevel.Warning), string.Join("; ", host.Log.Entries));
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task HandshakesBeyondTheCap_WaitForASlot_AndRunWhenOneFrees(MNetBackend backend)
    {
        await using ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenTcp(AnyLoopbackPort, c => c
            .UseTls(new TlsServerOptions { ServerCertificate = ServerCertificate, MaxConcurrentHandshakes = 1 })
            .UseConnectionHandler<EchoHandler>()));
        await using MNetConnectionFactory factory = Transports.CreateClient(backend);
        Socket silent = await ConnectSocketAsync(host.EndPoint); // takes the only slot and says nothing
        await WaitForConnectionsAsync(host, 1);

        Task<ConnectionContext> waiting = factory.ConnectTlsAsync(host.EndPoint, TrustOnly(ServerCertificate)).AsTask();
        await Task.Delay(500);
        Assert.False(waiting.IsCompleted, "a second handshake ran while the only slot was taken");

        silent.Dispose(); // its handshake fails, and the slot passes on
        await using ConnectionContext connection = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        await EchoOnceAsync(connection);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task EnabledSslProtocols_RefuseAClientWithNoVersionInCommon(MNetBackend backend)
    {
        await using ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenTcp(AnyLoopbackPort, c => c
            .UseTls(new TlsServerOptions { ServerCertificate = ServerCertificate, EnabledSslProtocols = SslProtocols.Tls13 })
            .UseConnectionHandler<EchoHandler>()));
        await using MNetConnectionFactory factory = Transports.CreateClient(backend);
        SslClientAuthenticationOptions tls12Only = TrustOnly(ServerCertificate);
        tls12Only.EnabledSslProtocols = SslProtocols.Tls12;

        await Assert.ThrowsAsync<AuthenticationException>(async () => await factory.ConnectTlsAsync(host.EndPoint, tls12Only));
        await using ConnectionContext connection = await factory.ConnectTlsAsync(host.EndPoint, TrustOnly(ServerCertificate));
        Assert.Equal(SslProtocols.Tls13, connection.Features.GetRequiredFeature<ITlsHandshakeFeature>().Protocol);
    }

    [Fact]
    public void BadOptions_AreRefusedWhenThePipelineIsBuilt()
    {
        X509Certificate2 withoutKey = X509CertificateLoader.LoadCertificate(ServerCertificate.Export(X509ContentType.Cert));
        ConnectionBuilder builder = new(new ServiceCollection().BuildServiceProvider());

        Assert.Throws<InvalidOperationException>(() => builder.UseTls(new TlsServerOptions()));
        Assert.Throws<ArgumentException>(() => builder.UseTls(withoutKey));
        Assert.Throws<ArgumentOutOfRangeException>(() => builder.UseTls(new TlsServerOptions { ServerCertificate = ServerCertificate, HandshakeTimeout = TimeSpan.Zero }));
        Assert.Throws<ArgumentOutOfRangeException>(() => builder.UseTls(new TlsServerOptions { ServerCertificate = ServerCertificate, MaxConcurrentHandshakes = 0 }));
        Assert.Throws<ArgumentException>(() => builder.UseTls(new TlsServerOptions { ServerCertificate = ServerCertificate, ClientCertificateMode = ClientCertificateMode.DelayCertificate }));
    }

    private static SslClientAuthenticationOptions TrustOnly(X509Certificate2 expected, string targetHost = "localhost")
        => TestCertificates.PinnedClientOptions(expected, targetHost);

    private static async Task AssertRefusedAsync(MNetConnectionFactory factory, EndPoint endPoint, SslClientAuthenticationOptions options)
    {
        // With TLS 1.3 the client learns of the refusal only when it reads the server's alert after its handshake.
        Exception refused = await Record.ExceptionAsync(async () =>
        {
            await using ConnectionContext connection = await factory.ConnectTlsAsync(endPoint, options);
            await connection.Transport.Output.WriteAsync("hello"u8.ToArray());
            ReadResult read = await connection.Transport.Input.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.True(read.IsCompleted && read.Buffer.IsEmpty, "The server echoed to a client it should have refused.");
        });
        Assert.True(refused is null or AuthenticationException or IOException, $"Unexpected {refused}");
    }

    private static async Task AssertClosedByServerAsync(IPEndPoint endPoint, byte[] send, bool closeAfterSending)
    {
        using Socket socket = await ConnectSocketAsync(endPoint);
        await socket.SendAsync(send);
        if (closeAfterSending)
        {
            socket.Shutdown(SocketShutdown.Send);
        }
        byte[] buffer = new byte[4096];
        using CancellationTokenSource timeout = new(TimeSpan.FromSeconds(10));
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) > 0)
            {
                // a TLS alert may come first; the server must close after it
            }
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
        }
    }

    private static async Task WaitForConnectionsAsync(ServerHost host, int count)
    {
        for (int i = 0; i < 500 && host.Server.ConnectionCount < count; i++)
        {
            await Task.Delay(10);
        }
        Assert.Equal(count, host.Server.ConnectionCount);
    }

    private static async Task<Socket> ConnectSocketAsync(EndPoint endPoint)
    {
        Socket socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endPoint);
        return socket;
    }

    private static async Task EchoOnceAsync(ConnectionContext connection)
    {
        await connection.Transport.Output.WriteAsync("ping over tls"u8.ToArray());
        await ReadPatternLikeAsync(connection.Transport.Input, "ping over tls"u8.ToArray());
    }

    private static async Task ReadPatternLikeAsync(PipeReader input, byte[] expected)
    {
        while (true)
        {
            ReadResult read = await input.ReadAsync();
            if (read.Buffer.Length >= expected.Length)
            {
                Assert.Equal(expected, read.Buffer.Slice(0, expected.Length).ToArray());
                input.AdvanceTo(read.Buffer.GetPosition(expected.Length));
                return;
            }
            Assert.False(read.IsCompleted, "The connection ended before the echo came back.");
            input.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }
    }
}
