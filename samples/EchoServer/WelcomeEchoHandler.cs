using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;

namespace EchoServer;

/// <summary>m_net's echo channel: greets the client, then writes back every byte it reads.</summary>
internal sealed class WelcomeEchoHandler : ConnectionHandler
{
    private static readonly byte[] s_welcome = "Welcome to echoServ\n"u8.ToArray();

    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        PipeWriter output = connection.Transport.Output;
        await output.WriteAsync(s_welcome);
        await connection.Transport.Input.CopyToAsync(output);
    }
}
