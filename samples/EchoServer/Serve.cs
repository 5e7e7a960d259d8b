using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Hosting;

namespace EchoServer;

/// <summary>The "serve" command: the echo server on TCP and/or a Unix socket, optionally in several processes.</summary>
internal static class Serve
{
    public static async Task<int> RunAsync(SampleArguments arguments)
    {
        string? tcp = arguments.Option("tcp");
        string? unix = arguments.Option("unix");
        if (tcp is null && unix is null)
        {
            throw new ArgumentException("serve needs --tcp ADDRESS:PORT and/or --unix PATH.");
        }
        IPEndPoint? tcpEndPoint = tcp is null ? null : SampleArguments.ParseIPEndPoint(tcp, "--tcp endpoint");
        int processes = (int)arguments.Number("processes", 1);

        // m_net's examples/process: more processes on the same port, the kernel spreading connections (SO_REUSEPORT).
        List<Process> children = [];
        for (int i = 1; i < processes; i++)
        {
            children.Add(StartChild(tcp, unix: null));
        }

        try
        {
            HostApplicationBuilder builder = Host.CreateApplicationBuilder();
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
            builder.Services.AddSingleton<WelcomeEchoHandler>();
            builder.Services.AddMNetServer(o =>
            {
                if (tcpEndPoint is not null)
                {
                    o.ListenTcp(tcpEndPoint, Pipeline);
                }
                if (unix is not null)
                {
                    o.ListenUnix(unix, Pipeline);
                }
            });
            using IHost host = builder.Build();
            Console.WriteLine($"echo server (pid {Environment.ProcessId}) on {tcp ?? unix}; Ctrl+C stops it");
            await host.RunAsync();
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

    private static Process StartChild(string? tcp, string? unix)
    {
        ProcessStartInfo start = new(Environment.ProcessPath!) { UseShellExecute = false };
        if (!Environment.ProcessPath!.EndsWith("EchoServer", StringComparison.Ordinal))
        {
            start.ArgumentList.Add(typeof(Serve).Assembly.Location); // running under "dotnet EchoServer.dll"
        }
        start.ArgumentList.Add("serve");
        if (tcp is not null)
        {
            start.ArgumentList.Add("--tcp");
            start.ArgumentList.Add(tcp);
        }
        if (unix is not null)
        {
            start.ArgumentList.Add("--unix");
            start.ArgumentList.Add(unix);
        }
        return Process.Start(start)!;
    }
}
