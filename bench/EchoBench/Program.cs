// The echo server bench/echo.sh measures: one ConnectionHandler on 127.0.0.1:PORT, served by
//   mnet          the standalone MNet server (AddMNetServer), no Kestrel
//   kestrel-mnet  Kestrel on the MNet transport (UseMNetTransport)
//   sockets       Kestrel on its own Sockets transport
// Prints "ready" once listening; SIGTERM stops it.
using System.Net;
using EchoBench;
using Microsoft.AspNetCore.Connections;

if (args.Length != 2 || !int.TryParse(args[1], out int port) || args[0] is not ("mnet" or "kestrel-mnet" or "sockets"))
{
    Console.Error.WriteLine("usage: EchoBench mnet|kestrel-mnet|sockets PORT");
    return 2;
}

IPEndPoint endPoint = new(IPAddress.Loopback, port);
IHost host;
if (args[0] == "mnet")
{
    HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
    builder.Services.AddMNetServer(o => o.ListenTcp(endPoint, c => c.UseConnectionHandler<EchoConnectionHandler>()));
    host = builder.Build();
}
else
{
    WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
    builder.Logging.SetMinimumLevel(LogLevel.Warning);
    builder.WebHost.ConfigureKestrel(k => k.Listen(endPoint, l => l.UseConnectionHandler<EchoConnectionHandler>()));
    if (args[0] == "kestrel-mnet")
    {
        builder.WebHost.UseMNetTransport();
    }
    host = builder.Build();
}

using (host)
{
    await host.StartAsync();
    Console.WriteLine("ready");
    await host.WaitForShutdownAsync();
}
return 0;
