using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using MNet.Transport.Hosting;
using MNet.Transport.Tls;
using MNet.Transport.Server;
using Microsoft.Extensions.Hosting;

namespace EchoServer;

/// <summary>The "serve" command: the echo server on TCP, UDP and/or a Unix socket, optionally in several processes.</summary>
internal static class Serve
{
    public static async Task<int> RunAsync(SampleArguments arguments)
    {
        string? tcp = arguments.Option("tcp");
        string? unix = arguments.Option("unix");
        IPEndPoint? udpEndPoint = arguments.Option("udp") is { } udp ? ArgumentText.ParseIPEndPoint(udp, "--udp endpoint", allowPortZero: true) : null;
        long? handle = arguments.Option("handle") is null ? null : arguments.Number("handle", 0, max: int.MaxValue);
        IPEndPoint? tlsEndPoint = arguments.Option("tls") is { } tls ? ArgumentText.ParseIPEndPoint(tls, "--tls endpoint", allowPortZero: true) : null;
        if (tcp is null && unix is null && handle is null && udpEndPoint is null && tlsEndPoint is null)
        {
            throw new ArgumentException("serve needs --tcp ADDRESS:PORT, --tls ADDRESS:PORT, --udp ADDRESS:PORT, --unix PATH or --handle FD.");
        }
        X509Certificate2? certificate = tlsEndPoint is null ? null : SampleCertificate.Load(arguments.Option("cert"), arguments.Option("cert-password"));
        IPEndPoint? tcpEndPoint = tcp is null ? null : ArgumentText.ParseIPEndPoint(tcp, "--tcp endpoint", allowPortZero: true);
        MNetBackend backend = ArgumentText.ParseEnum<MNetBackend>(arguments.Option("backend") ?? "auto", "--backend");
        int processes = (int)arguments.Number("processes", 1, max: 256);
        string share = arguments.Option("share") ?? "port";
        if (share is not ("port" or "socket") || (share == "socket" && tcpEndPoint is null))
        {
            throw new ArgumentException("--share is 'port' (each process binds with SO_REUSEPORT) or 'socket' (children inherit the parent's --tcp socket).");
        }

        if (processes > 1 && share == "port" && tcpEndPoint is { Port: 0 })
        {
            throw new ArgumentException("Processes that share a port through SO_REUSEPORT need a fixed --tcp port; or use --share socket.");
        }

        EndPoint? sharedSocketAddress = null;
        if (processes > 1 && share == "socket")
        {
            // m_net's examples/process, fork style: one listening socket, accepted from by every process.
            (int fd, sharedSocketAddress) = InheritableListenSocket.Open(tcpEndPoint!);
            handle = fd;
            tcpEndPoint = null;
        }

        List<Process> children = [];
        try
        {
            for (int i = 1; i < processes; i++)
            {
                // Without an inherited socket every process binds the port itself and the kernel spreads connections (SO_REUSEPORT).
                children.Add(handle is { } fd
                    ? StartChild(backend, "--handle", fd.ToString(CultureInfo.InvariantCulture))
                    : StartChild(backend, "--tcp", tcp!));
            }

            HostApplicationBuilder builder = Host.CreateApplicationBuilder();
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
            builder.Services.AddSingleton<WelcomeEchoHandler>();
            builder.Services.Configure<MNetTransportOptions>(o => o.Backend = backend);
            builder.Services.AddMNetServer(o =>
            {
                if (tcpEndPoint is not null)
                {
                    o.ListenTcp(tcpEndPoint, Pipeline);
                }
                if (handle is { } fd)
                {
                    o.ListenHandle((ulong)fd, Pipeline);
                }
                if (unix is not null)
                {
                    o.ListenUnix(unix, Pipeline);
                }
                if (tlsEndPoint is not null)
                {
                    o.ListenTcp(tlsEndPoint, connection => Pipeline(connection.UseTls(certificate!)));
                }
                if (udpEndPoint is not null)
                {
                    o.ListenUdp(udpEndPoint, datagram => datagram.ReplyAsync(datagram.Data));
                }
            });
            using IHost host = builder.Build();
            await host.StartAsync();
            MNetServer server = host.Services.GetRequiredService<MNetServer>();
            IEnumerable<string> endPoints = server.EndPoints
                .Select(e => e is FileHandleEndPoint h ? $"{sharedSocketAddress?.ToString() ?? "inherited socket"} (fd {h.FileHandle})" : e.ToString()!)
                .Concat(server.UdpEndPoints.Select(e => $"udp {e}"));
            if (certificate is not null)
            {
                Console.WriteLine($"TLS certificate {certificate.Subject}, thumbprint {certificate.Thumbprint} (client --thumbprint pins it)");
            }
            Console.WriteLine($"echo server (pid {Environment.ProcessId}) on {string.Join(", ", endPoints)} ({backend.ToString().ToLowerInvariant()} backend); Ctrl+C stops it");
            await host.WaitForShutdownAsync();
            return 0;
        }
        finally
        {
            foreach (Process child in children)
            {
                child.Kill();
                await child.WaitForExitAsync();
                child.Dispose();
            }
        }
    }

    private static void Pipeline(IConnectionBuilder connection)
    {
        ILogger logger = connection.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("EchoServer");
        connection.UseConnectionLogging(logger).UseConnectionHandler<WelcomeEchoHandler>();
    }

    private static Process StartChild(MNetBackend backend, string option, string value)
    {
        ProcessStartInfo start = new(Environment.ProcessPath!) { UseShellExecute = false };
        if (!Environment.ProcessPath!.EndsWith("EchoServer", StringComparison.Ordinal))
        {
            start.ArgumentList.Add(typeof(Serve).Assembly.Location); // running under "dotnet EchoServer.dll"
        }
        start.ArgumentList.Add("serve");
        start.ArgumentList.Add("--backend");
        start.ArgumentList.Add(backend.ToString());
        start.ArgumentList.Add(option);
        start.ArgumentList.Add(value);
        return Process.Start(start)!;
    }
}
