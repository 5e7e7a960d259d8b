using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using MNet.Transport.Tests.Infrastructure;
using Microsoft.AspNetCore.Connections;
using Xunit.Abstractions;

namespace MNet.Transport.Tests.Reliability;

/// <summary>Faults that take a whole process: a server out of file descriptors, a client killed outright.</summary>
public sealed class ProcessFaultTests(ITestOutputHelper output)
{
    private const string Welcome = "Welcome to echoServ\n";
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);
    private static readonly Regex AcceptPaused = new("Accepting on .* paused for");

    [Theory]
    [InlineData("epoll")]
    [InlineData("iouring")]
    public async Task OutOfDescriptors_TheServerKeepsServing_LogsOnce_StaysIdle_AndAcceptsAgainWhenFdsFree(string backend)
    {
        // The runtime alone keeps about 130 descriptors open (it holds every assembly it loaded), so 64 would not
        // even start it; 192 leaves room for a few dozen connections.
        await using SampleProcess server = SampleProcess.StartEchoServerWithFileLimit(192, "serve", "--tcp", "127.0.0.1:0", "--backend", backend);
        try
        {
            IPEndPoint endPoint = IPEndPoint.Parse(await server.WaitUntilServingAsync(server.Id));
            using Socket before = await ConnectAndReadWelcomeAsync(endPoint);
            int sockets = OpenSockets(server.Id);

            List<Socket> flood = [];
            try
            {
                // Each connection completes in the kernel's backlog whether or not the server can accept it.
                for (int i = 0; i < 150; i++)
                {
                    Socket socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    flood.Add(socket);
                    await socket.ConnectAsync(endPoint);
                }
                await server.WaitForLineAsync(AcceptPaused);

                // Saturated, it still serves the connection it had, and waits instead of retrying accept in a loop.
                Assert.Equal("still here\n", await EchoAsync(before, "still here\n"));
                TimeSpan cpu = await CpuOverAsync(server.Id, TimeSpan.FromSeconds(2));
                Assert.True(cpu < TimeSpan.FromMilliseconds(500), $"{cpu.TotalMilliseconds} ms of CPU in 2 s while out of descriptors");
                Assert.Single(server.Output.Split('\n'), AcceptPaused.IsMatch); // at most one line per 10 s
            }
            finally
            {
                foreach (Socket socket in flood)
                {
                    socket.Dispose();
                }
            }

            // The flood's connections close and every socket they took is freed; new connections are accepted again.
            int open = await ProcessResources.SettleAsync(() => OpenSockets(server.Id), sockets, Limit);
            Assert.True(open <= sockets, $"{open} sockets open in the server, {sockets} before the flood");
            Assert.DoesNotContain("fail:", server.Output, StringComparison.Ordinal); // peers' resets are not the handler's errors
            using Socket after = await ConnectAndReadWelcomeAsync(endPoint).WaitAsync(Limit);
            Assert.Equal("back\n", await EchoAsync(after, "back\n"));
            before.Dispose();
            after.Dispose(); // a stop waits for open connections
            Assert.Equal(0, await server.TerminateAsync(Limit));
        }
        finally
        {
            output.WriteLine(server.Output);
        }
    }

    [Fact]
    public async Task AClientKilledMidTransfer_EndsItsConnectionsOnTheServer_WithoutALeak()
    {
        await using ServerHost host = await ServerHost.StartAsync(o => o.ListenTcp(new IPEndPoint(IPAddress.Loopback, 0), c => c.UseConnectionHandler<EchoHandler>()));
        int baseline = ProcessResources.OpenFileDescriptors;

        // The sample's load mode streams both ways on 8 connections: killed, it stops mid-upload and mid-download.
        await using (SampleProcess client = SampleProcess.StartEchoServer("load", host.EndPoint.ToString()!, "--connections", "8", "--bytes", "100000000000"))
        {
            long deadline = Stopwatch.GetTimestamp() + (long)(Limit.TotalSeconds * Stopwatch.Frequency);
            while (host.Server.ConnectionCount < 8)
            {
                Assert.True(Stopwatch.GetTimestamp() < deadline, $"{host.Server.ConnectionCount} of 8 connections; client output: {client.Output}");
                await Task.Delay(50);
            }
            await Task.Delay(500); // data in flight both ways
        } // killed (SIGKILL) here

        Assert.Equal(0, await ProcessResources.SettleAsync(() => host.Server.ConnectionCount, 0, Limit));
        int remaining = await ProcessResources.SettleAsync(() => ProcessResources.OpenFileDescriptors, baseline, Limit);
        Assert.True(remaining <= baseline, ProcessResources.DescribeFileDescriptors());
        await using MNet.Transport.Hosting.MNetConnectionFactory factory = new();
        await using ConnectionContext next = await factory.ConnectAsync(host.EndPoint);
        await next.Transport.Output.WriteAsync("ping"u8.ToArray());
        ReadResult reply = await next.Transport.Input.ReadAtLeastAsync(4);
        Assert.Equal("ping", Encoding.ASCII.GetString(reply.Buffer.Slice(0, 4)));
    }

    private static async Task<Socket> ConnectAndReadWelcomeAsync(IPEndPoint endPoint)
    {
        Socket socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endPoint);
        Assert.Equal(Welcome, await ReadAsync(socket, Welcome.Length));
        return socket;
    }

    private static async Task<string> EchoAsync(Socket socket, string text)
    {
        await socket.SendAsync(Encoding.ASCII.GetBytes(text));
        return await ReadAsync(socket, text.Length);
    }

    private static async Task<string> ReadAsync(Socket socket, int length)
    {
        byte[] buffer = new byte[length];
        using CancellationTokenSource timeout = new(Limit);
        await using NetworkStream stream = new(socket, ownsSocket: false);
        await stream.ReadExactlyAsync(buffer, timeout.Token);
        return Encoding.ASCII.GetString(buffer);
    }

    private static async Task<TimeSpan> CpuOverAsync(int pid, TimeSpan period)
    {
        long before = CpuTicks(pid);
        await Task.Delay(period);
        return TimeSpan.FromSeconds((CpuTicks(pid) - before) / 100.0); // USER_HZ
    }

    // Sockets only: the runtime opens more files as it loads assemblies (for the stack traces of logged errors, say).
    private static int OpenSockets(int pid) => new DirectoryInfo($"/proc/{pid}/fd").EnumerateFileSystemInfos()
        .Count(fd => fd.LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true);

    // utime + stime from /proc/PID/stat, read after the command name (which may hold spaces).
    private static long CpuTicks(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
    }
}
