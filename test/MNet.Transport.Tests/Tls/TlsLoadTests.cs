using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using MNet.Transport.Hosting;
using MNet.Transport.Tests.Infrastructure;
using MNet.Transport.Tls;
using Microsoft.AspNetCore.Connections;

namespace MNet.Transport.Tests.Tls;

/// <summary>m_net's tls_test_rwdata and tls_test_reconnect on the standalone server's TLS middleware.</summary>
public sealed class TlsLoadTests
{
    private static readonly IPEndPoint AnyLoopbackPort = new(IPAddress.Loopback, 0);
    private static readonly X509Certificate2 Certificate = TestCertificates.Server("localhost");

    // A client half-closes (its output ends, so close_notify goes) while the server's 16 KB records are still
    // streaming in. SslStream does not keep the SSL_shutdown that makes the close_notify apart from a decryption, and
    // before TlsDuplexPipe's session gate a record could vanish between them: a later record failed its MAC, or the
    // client waited forever for bytes it would never get (3 of 3 runs of this test hung).
    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task HalfClosing_WhileRecordsStreamIn_LosesNoRecord(MNetBackend backend)
    {
        const int Connections = 3000, Records = 60, RecordSize = 16 * 1024;
        byte[] record = BytePattern.Block(RecordSize);
        await using ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenTcp(AnyLoopbackPort, c => c.UseTls(Certificate).Run(async connection =>
        {
            for (int i = 0; i < Records; i++)
            {
                if ((await connection.Transport.Output.WriteAsync(record)).IsCompleted)
                {
                    return;
                }
            }
            await PipeDrain.ReadToEndAsync(connection.Transport.Input);
        })));
        await using MNetConnectionFactory factory = Transports.CreateClient(backend);
        using SemaphoreSlim inFlight = new(32);

        long[] received = await Task.WhenAll(Enumerable.Range(0, Connections).Select(async i =>
        {
            await inFlight.WaitAsync();
            try
            {
                await using ConnectionContext connection = await factory.ConnectTlsAsync(host.EndPoint, TestCertificates.PinnedClientOptions(Certificate));
                Task<long> reading = BytePattern.ReadAndVerifyAsync(connection.Transport.Input);
                await connection.Transport.Output.WriteAsync(new byte[1000]);
                await Task.Delay(i % 3);
                await connection.Transport.Output.CompleteAsync();
                return await reading;
            }
            finally
            {
                inFlight.Release();
            }
        })).WaitAsync(TimeSpan.FromSeconds(90));

        Assert.All(received, r => Assert.Equal((long)Records * RecordSize, r));
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task TlsRwData_OneGiB_EchoedBothWaysAtOnce_ArrivesIntact(MNetBackend backend)
    {
        const long OneGiB = 1L << 30;
        await using ServerHost host = await ServerHost.StartAsync(backend, o => o.ListenTcp(AnyLoopbackPort, c => c.UseTls(Certificate).UseConnectionHandler<EchoHandler>()));
        await using MNetConnectionFactory factory = Transports.CreateClient(backend);
        await using ConnectionContext connection = await factory.ConnectTlsAsync(host.EndPoint, PinnedClientOptions());

        Task writing = BytePattern.WriteAsync(connection.Transport.Output, OneGiB, blockSize: 256 * 1024);
        long received = await BytePattern.ReadAndVerifyAsync(connection.Transport.Input, OneGiB);
        await writing;

        Assert.Equal(OneGiB, received);
    }

    [Theory]
    [MemberData(nameof(Transports.Backends), MemberType = typeof(Transports))]
    public async Task TlsReconnect_256Clients_5Rounds_FdCountReturnsToBaseline(MNetBackend backend)
    {
        // A first handshake loads what TLS needs (OpenSSL, its descriptors) before the baseline is read.
        await using (ServerHost warmUp = await StartEchoServerAsync(backend))
        {
            Assert.True(await EchoOnceOverTlsAsync(warmUp.EndPoint, -1));
        }
        int baseline = ProcessResources.OpenFileDescriptors;
        ServerHost host = await StartEchoServerAsync(backend);
        int serverFds = ProcessResources.OpenFileDescriptors;

        for (int round = 0; round < 5; round++)
        {
            int currentRound = round;
            bool[] results = await Task.WhenAll(Enumerable.Range(0, 256).Select(i => EchoOnceOverTlsAsync(host.EndPoint, currentRound * 1000 + i)));
            Assert.All(results, Assert.True);
            int open = await ProcessResources.SettleAsync(() => ProcessResources.OpenFileDescriptors, serverFds);
            Assert.True(open <= serverFds, $"Round {round}: {open} descriptors open, {serverFds} before it.");
        }

        await host.DisposeAsync();
        int remaining = await ProcessResources.SettleAsync(() => ProcessResources.OpenFileDescriptors, baseline);
        Assert.True(remaining <= baseline, $"{remaining} descriptors open, {baseline} before: {ProcessResources.DescribeFileDescriptors()}");
    }

    private static Task<ServerHost> StartEchoServerAsync(MNetBackend backend)
        => ServerHost.StartAsync(backend, o => o.ListenTcp(AnyLoopbackPort, c => c.UseTls(Certificate).UseConnectionHandler<EchoHandler>()));

    private static SslClientAuthenticationOptions PinnedClientOptions() => TestCertificates.PinnedClientOptions(Certificate);

    /// <summary>A client on a plain socket and SslStream: handshake, one message echoed, close_notify, then the server's close.</summary>
    private static async Task<bool> EchoOnceOverTlsAsync(EndPoint endPoint, int id)
    {
        using Socket socket = new(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endPoint);
        await using SslStream tls = new(new NetworkStream(socket, ownsSocket: false));
        await tls.AuthenticateAsClientAsync(PinnedClientOptions());
        byte[] message = BitConverter.GetBytes(id);
        await tls.WriteAsync(message);
        byte[] reply = new byte[message.Length];
        await tls.ReadExactlyAsync(reply);
        await tls.ShutdownAsync();
        bool closedCleanly = await tls.ReadAsync(new byte[1]) == 0;
        return closedCleanly && reply.AsSpan().SequenceEqual(message);
    }
}
