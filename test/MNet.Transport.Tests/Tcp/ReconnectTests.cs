using System.Net.Sockets;
using MNet.Transport.Tests.Infrastructure;

namespace MNet.Transport.Tests.Tcp;

/// <summary>m_net's test_reconnect: many clients connect, talk and leave, round after round, leaking nothing.</summary>
public sealed class ReconnectTests
{
    [Theory]
    [MemberData(nameof(Transports.All), MemberType = typeof(Transports))]
    public async Task Clients256_Connect_Echo_Disconnect_5Rounds_FdCountReturnsToBaseline(TransportKind kind)
    {
        // A first round loads every assembly involved (each maps descriptors) before the baseline is read.
        await using (EchoServer warmUp = await EchoServer.StartAsync(Transports.CreateFactory(kind)))
        {
            Assert.True(await EchoOnceAsync(warmUp.EndPoint, -1));
        }
        int baseline = ProcessResources.OpenFileDescriptors;
        int loopBaseline = ProcessResources.LoopThreads;
        EchoServer server = await EchoServer.StartAsync(Transports.CreateFactory(kind));
        int serverFds = ProcessResources.OpenFileDescriptors;

        for (int round = 0; round < 5; round++)
        {
            int currentRound = round;
            bool[] results = await Task.WhenAll(Enumerable.Range(0, 256).Select(i => EchoOnceAsync(server.EndPoint, currentRound * 1000 + i)));
            Assert.All(results, Assert.True);
            int open = await ProcessResources.SettleAsync(() => ProcessResources.OpenFileDescriptors, serverFds);
            Assert.True(open <= serverFds, $"Round {round}: {open} descriptors open, {serverFds} before it.");
        }

        await server.DisposeAsync();
        int remaining = await ProcessResources.SettleAsync(() => ProcessResources.OpenFileDescriptors, baseline);
        Assert.True(remaining <= baseline, $"{remaining} descriptors open, {baseline} before: {ProcessResources.DescribeFileDescriptors()}");
        await ProcessResources.AssertLoopThreadsSettleToAsync(loopBaseline);
    }

    private static async Task<bool> EchoOnceAsync(System.Net.EndPoint endPoint, int id)
    {
        using Socket socket = new(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endPoint);
        byte[] message = BitConverter.GetBytes(id);
        await socket.SendAsync(message);
        byte[] reply = new byte[message.Length];
        int read = 0;
        while (read < reply.Length)
        {
            int n = await socket.ReceiveAsync(reply.AsMemory(read));
            if (n == 0)
            {
                return false;
            }
            read += n;
        }
        socket.Shutdown(SocketShutdown.Send);
        bool closedCleanly = await socket.ReceiveAsync(new byte[1]) == 0;
        return closedCleanly && reply.AsSpan().SequenceEqual(message);
    }
}
