// The UDP echo servers bench/udp.sh measures, on 127.0.0.1:PORT:
//   channel   a UdpChannel loop: ReceiveAsync, then SendToAsync back to the sender
//   server    the standalone server's ListenUdp handler (queue, batched replies)
//   socket    the same loop on System.Net.Sockets.Socket, with the allocation-free SocketAddress overloads
// Prints "ready" once bound; runs until SIGTERM.
using System.Net;
using System.Net.Sockets;
using MNet.Transport.Udp;

string[] servers = ["channel", "server", "socket"];
if (args.Length != 2 || !int.TryParse(args[1], out int port) || !servers.Contains(args[0]))
{
    Console.Error.WriteLine($"usage: UdpBench {string.Join('|', servers)} PORT");
    return 2;
}

IPEndPoint endPoint = new(IPAddress.Loopback, port);
const int bufferSize = 1 << 20;
switch (args[0])
{
    case "channel":
        using (UdpChannel channel = UdpChannel.Bind(endPoint, new UdpChannelOptions { ReceiveBufferSize = bufferSize }))
        {
            Console.WriteLine("ready");
            byte[] buffer = new byte[65536];
            while (true)
            {
                DatagramReceiveResult received = await channel.ReceiveAsync(buffer);
                await channel.SendToAsync(buffer.AsMemory(0, received.ReceivedBytes), received.RemoteEndPoint);
            }
        }

    case "server":
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddMNetServer(o => o.ListenUdp(endPoint, d => d.ReplyAsync(d.Data), u => u.Channel.ReceiveBufferSize = bufferSize));
        using (IHost host = builder.Build())
        {
            await host.StartAsync();
            Console.WriteLine("ready");
            await host.WaitForShutdownAsync();
        }
        return 0;

    default:
        using (Socket socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            socket.ReceiveBufferSize = bufferSize;
            socket.Bind(endPoint);
            Console.WriteLine("ready");
            byte[] buffer = new byte[65536];
            SocketAddress peer = new(AddressFamily.InterNetwork);
            while (true)
            {
                int received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, peer);
                await socket.SendToAsync(buffer.AsMemory(0, received), SocketFlags.None, peer);
            }
        }
}
