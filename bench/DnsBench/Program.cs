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
    MNet.Transport.Dns.DnsResolver mnet = new(); // /etc/resolv.conf, as getaddrinfo reads it
    Dictionary<string, List<(double PerSecond, double CpuMicroseconds)>> results = sides.ToDictionary(side => side, _ => new List<(double, double)>());
    for (int round = 0; round <= rounds; round++) // round 0 warms both sides up (JIT tiers, pools) and is not counted
    {
        foreach (string side in results.Keys)
        {
            // Names no side has asked before: every lookup goes to the server.
            string[] batch = [.. Enumerable.Range(0, names).Select(i => $"h{i}.r{round}.{side}.bench.test")];
            Func<string, ValueTask<int>> lookup = side == "mnet"
                ? async name => (await mnet.GetHostAddressesAsync(name)).Count
                : async name => (await System.Net.Dns.GetHostAddressesAsync(name)).Length;
            (double perSecond, double cpu) = await Measure(batch, concurrency, lookup);
            if (round == 0)
            {
                continue;
            }
            results[side].Add((perSecond, cpu));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round} {side}: {perSecond:F0} names/s, {cpu:F1} CPU µs per name"));
        }
    }

    if (results.Count < 2)
    {
        return 0;
    }
    (double mnetRate, double mnetCpu) = Median(results["mnet"]);
    (double systemRate, double systemCpu) = Median(results["system"]);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"result mnet_per_s={mnetRate:F0} system_per_s={systemRate:F0} ratio={mnetRate / systemRate:F2} mnet_cpu_us={mnetCpu:F1} system_cpu_us={systemCpu:F1}"));
    return 0;
}

static async Task<(double PerSecond, double CpuMicroseconds)> Measure(string[] names, int concurrency, Func<string, ValueTask<int>> lookup)
{
    int failures = 0;
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
    return (names.Length / elapsed.TotalSeconds, cpu.TotalMicroseconds / names.Length);
}

static (double, double) Median(List<(double PerSecond, double Cpu)> rounds)
{
    List<(double PerSecond, double Cpu)> sorted = [.. rounds.OrderBy(r => r.PerSecond)];
    return sorted[sorted.Count / 2];
}
