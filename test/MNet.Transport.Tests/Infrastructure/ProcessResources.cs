namespace MNet.Transport.Tests.Infrastructure;

/// <summary>Reads this process's open descriptors, event-loop threads and resident memory from /proc.</summary>
public static class ProcessResources
{
    public static int OpenFileDescriptors => Directory.GetFiles("/proc/self/fd").Length;

    public static int LoopThreads => Directory.GetDirectories("/proc/self/task")
        .Count(task => File.ReadAllText(Path.Combine(task, "comm")).StartsWith("MNet loop", StringComparison.Ordinal));

    public static long ResidentBytes
    {
        get
        {
            string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
    }

    /// <summary>Waits until <paramref name="read"/> returns <paramref name="expected"/> or at most <paramref name="limit"/>; returns the last value.</summary>
    public static async Task<int> SettleAsync(Func<int> read, int expected, TimeSpan? limit = null)
    {
        DateTime until = DateTime.UtcNow + (limit ?? TimeSpan.FromSeconds(10));
        int value = read();
        while (value != expected && DateTime.UtcNow < until)
        {
            await Task.Delay(50);
            value = read();
        }
        return value;
    }
}
