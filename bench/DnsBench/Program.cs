using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using DnsBench;

// bench/dns.sh runs "serve" (a DNS server on 127.0.0.1:53) and, in a mount namespace whose /etc/resolv.conf names
// it, "resolve": distinct names looked up by MNet's DnsResolver and by System.Net.Dns (getaddrinfo), alternately.
return args switch
{
    ["serve", var port] => BenchDnsServer.Serve(int.Parse(port, CultureInfo.InvariantCulture)),
    ["resolve", var names, var concurrency, var rounds, .. var sides] => await Resolve(
        int.Parse(names, CultureInfo.InvariantCulture), int.Parse(concurrency, CultureInfo.InvariantCulture), int.Parse(rounds, CultureInfo.InvariantCulture),
        sides.Length > 0 ? sides : ["mnet", "system"]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: DnsBench serve PORT | DnsBench resolve NAMES CONCURRENCY ROUNDS [mnet|system ...]");
    return 2;
}

static async Task<int> Resolve(int names, int concurrency, int rounds, string[] sides)
{
    using MNet.Transport.Dns.DnsResolver mnet = new(); // /etc/resolv.conf, as getaddrinfo reads it
    Dictionary<string, List<RoundResult>> results = sides.ToDictionary(side => side, _ => new List<RoundResult>());
    // Round 0 warms both sides up and is not counted: five times the names, so the JIT's later tiers (which a process
    // pinned to one core reaches slowly) are in place before anything is ours.
    for (int round = 0; round <= rounds; round++)
    {
        foreach (string side in results.Keys)
        {
            // Names no side has asked before: every lookup goes to the server.
            string[] batch = [.. Enumerable.Range(0, round == 0 ? 5 * names : names).Select(i => $"h{i}.r{round}.{side}.bench.test")];
            Func<string, ValueTask<int>> lookup = side == "mnet"
                ? async name => (await mnet.GetHostAddressesAsync(name)).Count
                : async name => (await System.Net.Dns.GetHostAddressesAsync(name)).Length;
            RoundResult result = await Measure(batch, concurrency, lookup);
            if (round == 0)
            {
                continue;
            }
            results[side].Add(result);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"round {round} {side}: {result.PerSecond:F0} names/s, {result.CpuMicroseconds:F1} CPU µs and {result.AllocatedBytes:F0} B allocated per name"));
        }
    }

    if (results.Count < 2)
    {
        return 0;
    }
    RoundResult ours = Median(results["mnet"]);
    RoundResult system = Median(results["system"]);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"result mnet_per_s={ours.PerSecond:F0} system_per_s={system.PerSecond:F0} ratio={ours.PerSecond / system.PerSecond:F2} mnet_cpu_us={ours.CpuMicroseconds:F1} system_cpu_us={system.CpuMicroseconds:F1} mnet_bytes={ours.AllocatedBytes:F0} system_bytes={system.AllocatedBytes:F0}"));
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

static RoundResult Median(List<RoundResult> rounds) => rounds.OrderBy(r => r.PerSecond).ElementAt(rounds.Count / 2);

internal readonly record struct RoundResult(double PerSecond, double CpuMicroseconds, double AllocatedBytes);
