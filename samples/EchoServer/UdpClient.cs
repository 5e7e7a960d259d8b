using System.Net;
using System.Net.Sockets;
using System.Text;
using MNet.Transport.Udp;

namespace EchoServer;

/// <summary>The "client --udp" command: sends each line of stdin as one datagram and prints the reply.</summary>
internal static class UdpClient
{
    private static readonly TimeSpan s_replyTimeout = TimeSpan.FromSeconds(2);

    public static async Task<int> RunAsync(SampleArguments arguments)
    {
        IPEndPoint server = ArgumentText.ParseIPEndPoint(arguments.Option("udp")!, "--udp endpoint");
        using UdpChannel channel = UdpChannel.Bind(new IPEndPoint(server.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0));
        channel.Connect(server); // only the server's replies come in, and an ICMP "port unreachable" shows up as an error
        byte[] buffer = new byte[65536];
        while (Console.ReadLine() is { } line)
        {
            await channel.SendAsync(Encoding.UTF8.GetBytes(line));
            using CancellationTokenSource timeout = new(s_replyTimeout);
            try
            {
                DatagramReceiveResult reply = await channel.ReceiveAsync(buffer, timeout.Token);
                Console.WriteLine(Encoding.UTF8.GetString(buffer, 0, reply.ReceivedBytes));
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine($"no reply from {server} within {s_replyTimeout.TotalSeconds:0} s");
                return 1;
            }
            catch (SocketException ex)
            {
                Console.Error.WriteLine($"{server}: {ex.Message}");
                return 1;
            }
        }
        return 0;
    }
}
