namespace MNet.Transport.Tests.Infrastructure;

/// <summary>Reads this process's open descriptors, event-loop threads and resident memory from /proc.</summary>
public static class ProcessResources
{
    public static int OpenFileDescriptors => Directory.GetFiles("/proc/self/fd").Length;

    public static int LoopThreads => Directory.GetDirectories("/proc/self/task").Count(IsLoopThread);

    public static long ResidentBytes
    {
        get
        {
            string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
    }

    /// <summary>What each open descriptor points at, for failure messages.</summary>
    public static string DescribeFileDescriptors() => string.Join(", ", Directory.GetFiles("/proc/self/fd")
        .Select(fd =>
        {
            try
            {
                return $"{Path.GetFileName(fd)}->{new FileInfo(fd).LinkTarget}";
            }
            catch (IOException)
            {
                return $"{Path.GetFileName(fd)}->?";
            }
        }));

    private static bool IsLoopThread(string taskDirectory)
    {
        try
        {
            return File.ReadAllText(Path.Combine(taskDirectory, "comm")).StartsWith("MNet loop", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false; // the thread ended while we looked
        }
    }

    /// <summary>
    /// Waits until <paramref name="read"/> drops to <paramref name="ceiling"/> or below (closing is asynchronous), for at
    /// most <paramref name="limit"/>; returns the last value.
    /// </summary>
    public static async Task<int> SettleAsync(Func<int> read, int ceiling, TimeSpan? limit = null)
    {
        DateTime until = DateTime.UtcNow + (limit ?? TimeSpan.FromSeconds(10));
        int value = read();
        while (value > ceiling && DateTime.UtcNow < until)
        {
            await Task.Delay(50);
            value = read();
        }
        return value;
    }
}
