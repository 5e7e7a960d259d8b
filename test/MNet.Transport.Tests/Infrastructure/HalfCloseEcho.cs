using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>One echo across a half-close: the client sends a payload and its FIN; the server sends back what it read, then its own FIN.</summary>
public static class HalfCloseEcho
{
    public static async Task RunAsync(Socket client, ConnectionContext connection, int seed)
    {
        byte[] payload = new byte[256 * 1024];
        new Random(seed).NextBytes(payload);
        await client.SendAsync(payload);
        client.Shutdown(SocketShutdown.Send);

        byte[] read = await PipeDrain.ReadToEndAsync(connection.Transport.Input).WaitAsync(TimeSpan.FromSeconds(20));
        await connection.Transport.Output.WriteAsync(read);
        await connection.Transport.Output.CompleteAsync();
        byte[] echoed = await PipeDrain.ReceiveToEndAsync(client).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal(payload, echoed);
    }
}
