namespace MNet.Transport.Tests.Infrastructure;

/// <summary>Reads this process's open descriptors, event-loop threads and resident memory from /proc.</summary>
public static class ProcessResources
{
    /// <summary>
    /// Open sockets, epoll and eventfd descriptors: what a transport owns. Files the runtime maps as it loads
    /// assemblies and symbols come and go on their own and are not counted.
    /// </summary>
    public static int OpenFileDescriptors => NetworkDescriptors().Count();

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
    public static string DescribeFileDescriptors() => string.Join(", ", NetworkDescriptors());

    private static IEnumerable<string> NetworkDescriptors() => Directory.GetFiles("/proc/self/fd")
        .Select(fd =>
        {
            try
            {
                return $"{Path.GetFileName(fd)}->{new FileInfo(fd).LinkTarget}";
            }
            catch (IOException)
            {
                return null; // closed while we looked
            }
        })
        .OfType<string>()
        .Where(link => link.Contains("socket:", StringComparison.Ordinal)
            || link.Contains("[eventpoll]", StringComparison.Ordinal)
            || link.Contains("[eventfd]", StringComparison.Ordinal));

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
    /// Asserts that the loop threads settle to at most <paramref name="baseline"/>: at most, because the baseline may
    /// still count the loop of a host disposed just before it was read.
    /// </summary>
    public static async Task AssertLoopThreadsSettleToAsync(int baseline)
    {
        int loops = await SettleAsync(() => LoopThreads, baseline);
        Assert.True(loops <= baseline, $"{loops} loop threads, {baseline} before");
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
