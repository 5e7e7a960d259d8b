using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using MNet.Transport.Tests.Infrastructure;
using Microsoft.AspNetCore.Connections;

namespace MNet.Transport.Tests.Samples;

/// <summary>The EchoServer sample run as real processes: m_net's echo and multi-process examples.</summary>
public sealed class EchoServerSampleTests
{
    private const string Welcome = "Welcome to echoServ";
    private static readonly TimeSpan ExitLimit = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData("epoll")]
    [InlineData("portable")]
    public async Task Client_EchoesEachLineOfItsInput_AndTheServerStopsCleanlyOnSigterm(string backend)
    {
        await using SampleProcess server = SampleProcess.StartEchoServer("serve", "--tcp", "127.0.0.1:0", "--backend", backend);
        string address = (await server.WaitForLineAsync(new Regex($@"^echo server \(pid {server.Id}\) on ([^\s;,]+) \({backend} backend\)"))).Groups[1].Value;

        await using SampleProcess client = SampleProcess.StartEchoServer("client", address);
        await client.StandardInput.WriteAsync("hello\nsecond line\n");
        client.StandardInput.Close(); // end of input ends the client

        Assert.Equal(0, await client.WaitForExitAsync(ExitLimit));
        Assert.Equal($"{Welcome}\nhello\nsecond line", client.Output);
        Assert.Equal(0, await server.TerminateAsync(ExitLimit));
    }

    [Theory]
    [InlineData("epoll")]
    [InlineData("portable")]
    public async Task TlsClient_EchoesThroughTheServersSelfSignedCertificate_PinnedByThumbprint_AndRefusesItUnpinned(string backend)
    {
        await using SampleProcess server = SampleProcess.StartEchoServer("serve", "--tls", "127.0.0.1:0", "--backend", backend);
        string thumbprint = (await server.WaitForLineAsync(new Regex(@"thumbprint ([0-9A-F]{40})"))).Groups[1].Value;
        string address = await server.WaitUntilServingAsync(server.Id);

        await using SampleProcess client = SampleProcess.StartEchoServer("client", "--tls", address, "--thumbprint", thumbprint);
        await client.StandardInput.WriteAsync("hello over tls\n");
        client.StandardInput.Close();
        Assert.Equal(0, await client.WaitForExitAsync(ExitLimit));
        Assert.Equal($"{Welcome}\nhello over tls", client.Output);

        await using SampleProcess unpinned = SampleProcess.StartEchoServer("client", "--tls", address);
        unpinned.StandardInput.Close();
        Assert.Equal(1, await unpinned.WaitForExitAsync(ExitLimit));
        Assert.Contains("certificate", unpinned.Output, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, await server.TerminateAsync(ExitLimit));
    }

    [Theory]
    [InlineData("epoll")]
    [InlineData("portable")]
    public async Task UdpClient_EchoesEachLineAsADatagram_AndReportsAServerThatIsNotThere(string backend)
    {
        await using SampleProcess server = SampleProcess.StartEchoServer("serve", "--udp", "127.0.0.1:0", "--backend", backend);
        string address = (await server.WaitForLineAsync(new Regex($@" on udp ([^\s;,]+) \({backend} backend\)"))).Groups[1].Value;

        await using SampleProcess client = SampleProcess.StartEchoServer("client", "--udp", address);
        await client.StandardInput.WriteAsync("hello\nsecond line\n");
        client.StandardInput.Close();
        Assert.Equal(0, await client.WaitForExitAsync(ExitLimit));
        Assert.Equal("hello\nsecond line", client.Output);
        Assert.Equal(0, await server.TerminateAsync(ExitLimit));

        // The server is gone: the connected client's datagram draws an ICMP port unreachable.
        await using SampleProcess orphan = SampleProcess.StartEchoServer("client", "--udp", address);
        await orphan.StandardInput.WriteAsync("anyone?\n");
        orphan.StandardInput.Close();
        Assert.Equal(1, await orphan.WaitForExitAsync(ExitLimit));
        Assert.Contains("Connection refused", orphan.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TwoProcesses_BoundToOnePortWithReusePort_BothAcceptConnections()
    {
        // This process is one server and the sample the other; each greets differently, so every reply names its process.
        await using ServerHost inProcess = await ServerHost.StartAsync(o => o.ListenTcp(
            new IPEndPoint(IPAddress.Loopback, 0),
            c => c.Run(async connection => await connection.Transport.Output.WriteAsync("in-process\n"u8.ToArray()))));
        IPEndPoint port = (IPEndPoint)inProcess.EndPoint;
        await using SampleProcess sample = SampleProcess.StartEchoServer("serve", "--tcp", port.ToString());
        await sample.WaitUntilServingAsync(sample.Id);

        Dictionary<string, int> greetings = await CountGreetingsAsync(port, connections: 64);

        Assert.True(greetings.GetValueOrDefault(Welcome) > 0 && greetings.GetValueOrDefault("in-process") > 0,
            $"greetings: {string.Join(", ", greetings)}");
    }

    [Fact]
    public async Task SharedSocket_ChildrenServeTheParentsInheritedSocket_EvenAfterTheParentIsGone()
    {
        await using SampleProcess parent = SampleProcess.StartEchoServer("serve", "--tcp", "127.0.0.1:0", "--processes", "2", "--share", "socket");
        IPEndPoint address = IPEndPoint.Parse(await parent.WaitUntilServingAsync(parent.Id));
        Match childReady = await parent.WaitForLineAsync(new Regex(@"^echo server \(pid (\d+)\) on inherited socket \(fd \d+\)"));
        using Process child = Process.GetProcessById(int.Parse(childReady.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        try
        {
            Assert.Equal(64, (await CountGreetingsAsync(address, connections: 64)).GetValueOrDefault(Welcome));

            // With the parent killed outright, only the child holds the socket: connections still get a welcome.
            using (Process parentProcess = Process.GetProcessById(parent.Id))
            {
                parentProcess.Kill(); // its output stays open in the child, so wait on the process, not on the output
                await parentProcess.WaitForExitAsync();
            }
            Assert.Equal(16, (await CountGreetingsAsync(address, connections: 16)).GetValueOrDefault(Welcome));
        }
        finally
        {
            child.Kill();
            await child.WaitForExitAsync();
        }

        SocketException refused = await Assert.ThrowsAsync<SocketException>(() => CountGreetingsAsync(address, connections: 1));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    [Fact]
    public async Task BadArguments_AreRejectedWithTheirReason()
    {
        await using SampleProcess sample = SampleProcess.StartEchoServer("serve", "--tcp", "127.0.0.1:0", "--processes", "2");
        await using SampleProcess unknownBackend = SampleProcess.StartEchoServer("serve", "--tcp", "127.0.0.1:0", "--backend", "wepoll");

        Assert.Equal(2, await sample.WaitForExitAsync(ExitLimit));
        Assert.Contains("need a fixed --tcp port", sample.Output, StringComparison.Ordinal);
        Assert.Equal(2, await unknownBackend.WaitForExitAsync(ExitLimit));
        Assert.Contains("--backend must be one of auto, epoll, portable, iouring, not 'wepoll'", unknownBackend.Output, StringComparison.Ordinal);
    }

    /// <summary>Opens <paramref name="connections"/> connections at once and counts the first line each one receives.</summary>
    private static async Task<Dictionary<string, int>> CountGreetingsAsync(IPEndPoint endPoint, int connections)
    {
        string[] greetings = await Task.WhenAll(Enumerable.Range(0, connections).Select(async _ =>
        {
            using Socket socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(endPoint);
            using NetworkStream stream = new(socket);
            using StreamReader reader = new(stream, Encoding.ASCII);
            using CancellationTokenSource limit = new(ExitLimit);
            return await reader.ReadLineAsync(limit.Token) ?? "(closed)";
        }));
        return greetings.CountBy(g => g).ToDictionary();
    }
}
