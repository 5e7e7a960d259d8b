using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>
/// A sample program run as its own process (with <c>dotnet</c>), its output collected line by line. Disposing
/// kills it and everything it started.
/// </summary>
public sealed class SampleProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartupLimit = TimeSpan.FromSeconds(30);
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly SemaphoreSlim _lineArrived = new(0);

    private SampleProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => Collect(e.Data);
        _process.ErrorDataReceived += (_, e) => Collect(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

    public StreamWriter StandardInput => _process.StandardInput;

    public string Output => string.Join('\n', _lines);

    /// <summary>Starts the EchoServer sample with <paramref name="arguments"/>.</summary>
    public static SampleProcess StartEchoServer(params string[] arguments) => Start("EchoServerSample", arguments);

    /// <summary>
    /// Starts the EchoServer sample with at most <paramref name="fileLimit"/> open file descriptors (<c>ulimit -n</c>),
    /// the runtime's own included.
    /// </summary>
    public static SampleProcess StartEchoServerWithFileLimit(int fileLimit, params string[] arguments)
        => Start("EchoServerSample", arguments, fileLimit);

    /// <summary>Starts the NtpClient sample with <paramref name="arguments"/>.</summary>
    public static SampleProcess StartNtpClient(params string[] arguments) => Start("NtpClientSample", arguments);

    /// <summary>Starts the WebServer sample with <paramref name="arguments"/>.</summary>
    public static SampleProcess StartWebServer(params string[] arguments) => Start("WebServerSample", arguments);

    private static SampleProcess Start(string sample, string[] arguments, int? fileLimit = null)
    {
        string dll = typeof(SampleProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == sample).Value!;
        ProcessStartInfo start = new(fileLimit is null ? "dotnet" : "sh")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (fileLimit is { } limit)
        {
            // The shell sets the limit and becomes dotnet (exec), so the process id stays the sample's.
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add($"ulimit -n {limit} && exec dotnet \"$@\"");
            start.ArgumentList.Add("sh");
        }
        start.ArgumentList.Add(dll);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        return new SampleProcess(Process.Start(start)!);
    }

    /// <summary>Waits for the first output line that matches <paramref name="pattern"/>, and returns its match.</summary>
    public async Task<Match> WaitForLineAsync(Regex pattern)
    {
        using CancellationTokenSource limit = new(StartupLimit);
        HashSet<string> seen = [];
        while (true)
        {
            foreach (string line in _lines)
            {
                if (seen.Add(line) && pattern.Match(line) is { Success: true } match)
                {
                    return match;
                }
            }
            try
            {
                await _lineArrived.WaitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"No line matched {pattern} within {StartupLimit.TotalSeconds} s; output:\n{Output}");
            }
        }
    }

    /// <summary>Waits for the sample's "echo server (pid N) on ADDRESS" line from the process with <paramref name="pid"/>.</summary>
    public async Task<string> WaitUntilServingAsync(int pid)
        => (await WaitForLineAsync(new Regex($@"^echo server \(pid {pid}\) on ([^\s;,]+)"))).Groups[1].Value;

    /// <summary>Sends SIGTERM (the host's graceful stop) and waits for the exit code.</summary>
    public async Task<int> TerminateAsync(TimeSpan limit)
    {
        using Process kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
        return await WaitForExitAsync(limit);
    }

    public async Task<int> WaitForExitAsync(TimeSpan limit)
    {
        using CancellationTokenSource timeout = new(limit);
        await _process.WaitForExitAsync(timeout.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        _lineArrived.Dispose();
    }

    private void Collect(string? line)
    {
        if (line is not null)
        {
            _lines.Enqueue(line);
            _lineArrived.Release();
        }
    }
}
