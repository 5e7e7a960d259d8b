using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;

// bench/dns.sh runs this in a mount namespace whose /etc/resolv.conf names its DNS server (bench/dns-server.c):
// distinct names looked up by MNet's DnsResolver or by System.Net.Dns (getaddrinfo), one side per process.
return args switch
{
    ["resolve", var names, var concurrency, var side] when side is "mnet" or "system" => await Resolve(
        int.Parse(names, CultureInfo.InvariantCulture), int.Parse(concurrency, CultureInfo.InvariantCulture), side),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: DnsBench resolve NAMES CONCURRENCY mnet|system");
    return 2;
}

// One side per process, so neither inherits the other's thread pool (getaddrinfo leaves dozens of blocked threads).
static async Task<int> Resolve(int names, int concurrency, string side)
{
    using MNet.Transport.Dns.DnsResolver mnet = new(); // /etc/resolv.conf, as getaddrinfo reads it
    Func<string, ValueTask<int>> lookup = side == "mnet"
        ? async name => (await mnet.GetHostAddressesAsync(name)).Count
        : async name => (await System.Net.Dns.GetHostAddressesAsync(name)).Length;
    // Every name is one nobody asked before, so every lookup goes to the server. The first 10 s are not counted: on
    // one core the runtime treats the process as single-processor and waits for a full second without new methods
    // before it starts moving hot code to its optimized tier, which takes seconds to happen under this load.
    string run = Guid.NewGuid().ToString("N")[..8];
    long warmUpEnd = Stopwatch.GetTimestamp() + 10 * Stopwatch.Frequency;
    for (int batch = 0; Stopwatch.GetTimestamp() < warmUpEnd; batch++)
    {
        await Measure([.. Enumerable.Range(0, names).Select(i => $"w{batch}-{i}.{run}.{side}.bench.test")], concurrency, lookup);
    }
    RoundResult result = await Measure([.. Enumerable.Range(0, names).Select(i => $"h{i}.{run}.{side}.bench.test")], concurrency, lookup);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"result side={side} per_s={result.PerSecond:F0} cpu_us={result.CpuMicroseconds:F1} bytes={result.AllocatedBytes:F0}"));
    return 0;
}

static async Task<RoundResult> Measure(string[] names, int concurrency, Func<string, ValueTask<int>> lookup)
{
    int failures = 0;
    long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
    TimeSpan cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
    long started = Stopwatch.GetTimestamp();
    await Parallel.ForEachAsync(names, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (name, _) =>
    {
        try
        {
            if (await lookup(name) == 0)
            {
                Interlocked.Increment(ref failures);
            }
        }
        catch (SocketException)
        {
            Interlocked.Increment(ref failures);
        }
    });
    TimeSpan elapsed = Stopwatch.GetElapsedTime(started);
    TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
    if (failures > 0)
    {
        throw new InvalidOperationException($"{failures} of {names.Length} lookups failed.");
    }
    long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
    return new RoundResult(names.Length / elapsed.TotalSeconds, cpu.TotalMicroseconds / names.Length, (double)allocated / names.Length);
}

internal readonly record struct RoundResult(double PerSecond, double CpuMicroseconds, double AllocatedBytes);
