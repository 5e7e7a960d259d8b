using System.Diagnostics;
using System.Net;
using MNet.Transport.Hosting;
using MNet.Transport.Tests.Infrastructure;
using Microsoft.AspNetCore.Connections;
using Xunit.Abstractions;

namespace MNet.Transport.Tests.Reliability;

/// <summary>
/// Pooled buffers are never shared between connections or reused early: 200 connections stream bytes of their own
/// (<see cref="KeyedPattern"/>) through the standalone server's echo at once for 5 s, both ends on MNet, and every
/// byte comes back to the connection that sent it, in order.
/// </summary>
public sealed class IsolationTests(ITestOutputHelper output)
{
    private const int Connections = 200;
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task ConcurrentConnections_EachGetsOnlyItsOwnBytesBack()
    {
        await using ServerHost host = await ServerHost.StartAsync(o => o.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0), c => c.UseConnectionHandler<EchoHandler>()));
        await using MNetConnectionFactory factory = new();

        (long Sent, long Received)[] results = await Task.WhenAll(Enumerable.Range(0, Connections).Select(key => StreamAsync(factory, host.EndPoint, key)));

        Assert.All(results, r => Assert.Equal(r.Sent, r.Received));
        long total = results.Sum(r => r.Received);
        output.WriteLine($"{Connections} connections echoed {total:N0} bytes in {Duration.TotalSeconds} s");
        Assert.All(results, r => Assert.True(r.Received > 0));
    }

    private static async Task<(long Sent, long Received)> StreamAsync(MNetConnectionFactory factory, EndPoint endPoint, int key)
    {
        await using ConnectionContext connection = await factory.ConnectAsync(endPoint);
        Task<long> reading = KeyedPattern.ReadAndVerifyAsync(connection.Transport.Input, key);
        long deadline = Stopwatch.GetTimestamp() + (long)(Duration.TotalSeconds * Stopwatch.Frequency);
        long sent = await KeyedPattern.WriteAsync(connection.Transport.Output, key, new Random(key), maxWrite: 16 * 1024, deadline: deadline);
        await connection.Transport.Output.CompleteAsync();
        return (sent, await reading);
    }
}
