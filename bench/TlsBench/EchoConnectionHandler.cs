using Microsoft.AspNetCore.Connections;

namespace TlsBench;

/// <summary>Writes back every byte it reads: the same handler behind every server the bench compares.</summary>
internal sealed class EchoConnectionHandler : ConnectionHandler
{
    public override Task OnConnectedAsync(ConnectionContext connection)
        => connection.Transport.Input.CopyToAsync(connection.Transport.Output);
}
