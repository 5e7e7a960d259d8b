// m_net's echo examples on MNet.Transport's standalone server and client.
//   dotnet run -c Release --project samples/EchoServer -- serve --tcp 127.0.0.1:7000 [--udp 127.0.0.1:7001] [--unix /tmp/echo.sock] [--processes N [--share port|socket]]
//   dotnet run -c Release --project samples/EchoServer -- serve --handle 3   (an inherited listening socket)
//   dotnet run -c Release --project samples/EchoServer -- serve --tcp 127.0.0.1:7000 --backend portable   (auto|epoll|portable|iouring)
//   dotnet run -c Release --project samples/EchoServer -- serve --tls 127.0.0.1:7443 [--cert server.pfx [--cert-password P]]
//   dotnet run -c Release --project samples/EchoServer -- client 127.0.0.1:7000
//   dotnet run -c Release --project samples/EchoServer -- client --tls 127.0.0.1:7443 [--thumbprint HEX] [--host NAME]
//   dotnet run -c Release --project samples/EchoServer -- client --udp 127.0.0.1:7001
//   dotnet run -c Release --project samples/EchoServer -- load 127.0.0.1:7000 --connections 64 --bytes 67108864
using System.Security.Authentication;
using EchoServer;

string command = args.Length > 0 ? args[0] : "help";
try
{
    return command switch
    {
        "serve" => await Serve.RunAsync(SampleArguments.Parse(args[1..])),
        "client" when args.Contains("--udp") => await UdpClient.RunAsync(SampleArguments.Parse(args[1..])),
        "client" => await InteractiveClient.RunAsync(SampleArguments.Parse(args[1..])),
        "load" => await LoadClient.RunAsync(SampleArguments.Parse(args[1..])),
        _ => Usage(),
    };
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    return Usage();
}
catch (AuthenticationException ex)
{
    Console.Error.WriteLine(ex.Message); // the client refused the server's certificate, or the handshake failed
    return 1;
}

static int Usage()
{
    Console.Error.WriteLine("""
        usage:
          EchoServer serve --tcp 127.0.0.1:7000 [--udp 127.0.0.1:7001] [--unix PATH] [--processes N [--share port|socket]]
          EchoServer serve --tls 127.0.0.1:7443 [--cert FILE.pfx [--cert-password P]]   (self-signed when no --cert)
          EchoServer serve --udp 127.0.0.1:7001 | --handle FD
          EchoServer serve ... [--backend auto|epoll|portable|iouring]   (MNet's I/O engine: native epoll, .NET's socket engine, or io_uring)
          EchoServer client 127.0.0.1:7000 | --unix PATH | --udp 127.0.0.1:7001
          EchoServer client --tls 127.0.0.1:7443 [--thumbprint HEX] [--host NAME]
          EchoServer load 127.0.0.1:7000 [--connections 64] [--bytes 67108864]
        """);
    return 2;
}
