using Microsoft.AspNetCore.Connections;

namespace EchoBench;

/// <summary>Writes back every byte it reads until the peer's FIN; the same handler on every server bench/echo.sh runs.</summary>
internal sealed class EchoConnectionHandler : ConnectionHandler
{
    public override Task OnConnectedAsync(ConnectionContext connection)
        => connection.Transport.Input.CopyToAsync(connection.Transport.Output);
}
