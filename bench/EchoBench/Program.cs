// The echo server bench/echo.sh measures: one ConnectionHandler on 127.0.0.1:PORT, served by
//   mnet           the standalone MNet server (AddMNetServer) on MNet's epoll backend, no Kestrel
//   kestrel-mnet   Kestrel on the MNet transport (UseMNetTransport), epoll backend
//   sockets        Kestrel on its own Sockets transport
//   mnet-portable / kestrel-portable: the first two on MNet's portable backend (.NET's socket engine)
//   mnet-iouring   the standalone server on MNet's io_uring backend
// and "mnet-inline" / "sockets-inline": the same with UnsafePreferInlineScheduling (the handler runs on the
// I/O thread instead of the thread pool). Prints "ready" once listening; SIGTERM stops it.
using System.Net;
using EchoBench;
using Microsoft.AspNetCore.Connections;
using MNet.Transport.Hosting;

string[] servers = ["mnet", "mnet-inline", "mnet-portable", "mnet-iouring", "kestrel-mnet", "kestrel-portable", "sockets", "sockets-inline"];
if (args.Length != 2 || !int.TryParse(args[1], out int port) || !servers.Contains(args[0]))
{
    Console.Error.WriteLine($"usage: EchoBench {string.Join('|', servers)} PORT");
    return 2;
}

string server = args[0];
bool inline = server.EndsWith("-inline", StringComparison.Ordinal);
MNetBackend backend = server.EndsWith("-portable", StringComparison.Ordinal) ? MNetBackend.Portable
    : server.EndsWith("-iouring", StringComparison.Ordinal) ? MNetBackend.IoUring
    : MNetBackend.Epoll;
IPEndPoint endPoint = new(IPAddress.Loopback, port);
IHost host;
if (server.StartsWith("mnet", StringComparison.Ordinal))
{
    HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
    builder.Services.Configure<MNetTransportOptions>(o =>
    {
        o.UnsafePreferInlineScheduling = inline;
        o.Backend = backend;
    });
    builder.Services.AddMNetServer(o => o.ListenTcp(endPoint, c => c.UseConnectionHandler<EchoConnectionHandler>()));
    host = builder.Build();
}
else
{
    WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
    builder.Logging.SetMinimumLevel(LogLevel.Warning);
    builder.WebHost.ConfigureKestrel(k => k.Listen(endPoint, l => l.UseConnectionHandler<EchoConnectionHandler>()));
    if (server.StartsWith("kestrel-", StringComparison.Ordinal))
    {
        builder.WebHost.UseMNetTransport(o => o.Backend = backend);
    }
    else
    {
        builder.WebHost.UseSockets(o => o.UnsafePreferInlineScheduling = inline);
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
