using System.Net;

namespace MNet.Transport.Dns;

/// <summary>
/// Where and how a <see cref="DnsResolver"/> asks. The defaults are those of the C library's resolver;
/// <see cref="FromResolvConf"/> reads the system's settings.
/// </summary>
public sealed class DnsResolverOptions
{
    /// <summary>The name servers, asked in order (or in turn with <see cref="Rotate"/>). Empty means 127.0.0.1 port 53.</summary>
    public IList<IPEndPoint> Servers { get; } = new List<IPEndPoint>();

    /// <summary>Domains appended to names with fewer than <see cref="Ndots"/> dots (resolv.conf's <c>search</c>).</summary>
    public IList<string> SearchDomains { get; } = new List<string>();

    /// <summary>How many dots make a name be tried as given before the search domains. Defaults to 1; at most 15.</summary>
    public int Ndots { get; set; } = 1;

    /// <summary>How long one server is waited for in each round. Defaults to 5 seconds.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How many rounds over all servers a query makes before it fails. Defaults to 2.</summary>
    public int Attempts { get; set; } = 2;

    /// <summary>Starts each query at the next server in turn instead of always the first. Defaults to false.</summary>
    public bool Rotate { get; set; }

    /// <summary>The hosts file, read once when the resolver is made and asked before any server; null for none. Defaults to /etc/hosts.</summary>
    public string? HostsFilePath { get; set; } = "/etc/hosts";

    /// <summary>The most names (per address family asked) whose answers are cached; 0 turns caching off. Defaults to 10,000.</summary>
    public int MaxCacheEntries { get; set; } = 10_000;

    /// <summary>
    /// Reads <c>nameserver</c>, <c>search</c>, <c>domain</c> and <c>options</c> (<c>ndots</c>, <c>timeout</c>,
    /// <c>attempts</c>, <c>rotate</c>) from a resolv.conf file as the C library does: lines it does not understand are
    /// skipped, and a missing file gives the defaults.
    /// </summary>
    /// <param name="path">The file; defaults to /etc/resolv.conf.</param>
    public static DnsResolverOptions FromResolvConf(string path = "/etc/resolv.conf")
    {
        ArgumentNullException.ThrowIfNull(path);
        DnsResolverOptions options = new();
        if (File.Exists(path))
        {
            ResolvConfParser.Parse(File.ReadAllText(path), options);
        }
        return options;
    }

    internal void Validate()
    {
        if (Ndots is < 0 or > ResolvConfParser.MaxNdots)
        {
            throw new ArgumentOutOfRangeException(nameof(Ndots), Ndots, $"{nameof(Ndots)} must be between 0 and {ResolvConfParser.MaxNdots}.");
        }
        if (Timeout <= TimeSpan.Zero || Timeout.TotalMilliseconds > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(Timeout), Timeout, $"{nameof(Timeout)} must be positive.");
        }
        if (Attempts < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Attempts), Attempts, $"{nameof(Attempts)} must be at least 1.");
        }
        if (MaxCacheEntries < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxCacheEntries), MaxCacheEntries, $"{nameof(MaxCacheEntries)} must not be negative.");
        }
        foreach (IPEndPoint? server in Servers)
        {
            if (server is null || server.Port == 0)
            {
                throw new ArgumentException($"Every server needs an address and a port; got '{server}'.", nameof(Servers));
            }
        }
        foreach (string? domain in SearchDomains)
        {
            ArgumentNullException.ThrowIfNull(domain, nameof(SearchDomains));
            DnsQueryWriter.ValidateHostName(domain, nameof(SearchDomains));
        }
    }
}
