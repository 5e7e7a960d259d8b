using System.Net;
using System.Security.Cryptography.X509Certificates;
using MNet.Transport.Hosting;
using MNet.Transport.Tests.Infrastructure;
using MNet.Transport.Tls;
using Microsoft.AspNetCore.Connections;
using Xunit.Abstractions;

namespace MNet.Transport.Tests.Reliability;

/// <summary>
/// 100 MB echoed through <see cref="FaultProxy"/> (writes split into random pieces, random delays and stalls, some
/// connections cut) between MNet's client and MNet's standalone server: every connection that was not cut gets all
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
        => RunAsync(c => c.UseConnectionHandler<EchoHandler>(), (factory, endPoint) => factory.ConnectAsync(endPoint).AsTask(), seed: 1);

    [Fact]
    public Task Tls_ThroughFaultyProxy_IntactOrCleanlyFailed()
        => RunAsync(
            c => c.UseTls(Certificate).UseConnectionHandler<EchoHandler>(),
            (factory, endPoint) => factory.ConnectTlsAsync(endPoint, TestCertificates.PinnedClientOptions(Certificate)).AsTask(),
            seed: 2);

    private async Task RunAsync(
        Action<IConnectionBuilder> pipeline,
        Func<MNetConnectionFactory, EndPoint, Task<ConnectionContext>> connect,
        int seed)
    {
        await using ServerHost host = await ServerHost.StartAsync(o => o.ListenTcp(AnyLoopbackPort, pipeline));
        await using FaultProxy proxy = new(host.EndPoint, seed, cutProbability: 0.2, cutWithin: BytesPerConnection);
        await using MNetConnectionFactory factory = new();

        Outcome[] outcomes = await Task.WhenAll(Enumerable.Range(0, Connections)
            .Select(key => EchoAsync(factory, proxy.EndPoint, connect, key, seed)))
            .WaitAsync(TimeSpan.FromSeconds(90));

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

    private static async Task WriteThenCompleteAsync(ConnectionContext connection, int key, Random sizes)
    {
        await KeyedPattern.WriteAsync(connection.Transport.Output, key, sizes, maxWrite: 64 * 1024, length: BytesPerConnection);
        await connection.Transport.Output.CompleteAsync();
    }

    private sealed record Outcome(int Key, int? ClientPort, long Received, Exception? Error);
}
