using Microsoft.AspNetCore.Connections;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>m_net's echo channel as a <see cref="ConnectionHandler"/>: every byte read is written back.</summary>
public sealed class EchoHandler : ConnectionHandler
{
    public override async Task OnConnectedAsync(ConnectionContext connection)
        => await connection.Transport.Input.CopyToAsync(connection.Transport.Output);
}
