using System.Net;
using System.Net.Sockets;
using MNet.Transport.Hosting;

namespace MNet.Transport.Dns;

/// <summary>
/// An asynchronous stub resolver on MNet event loops: A and AAAA lookups (CNAME chains followed) sent over UDP with
/// random query ids from a socket per server that moves to a new random port every 256 queries, asked again over TCP
/// when the reply is truncated, answered from the hosts file first and from a TTL cache (negative answers included)
/// after. No thread ever blocks on it.
/// </summary>
/// <remarks>
/// A reply counts only when it comes from the server asked and matches the query's id and question; one that
/// breaks the wire format is dropped and counted on the <c>mnet.dns.replies.dropped</c> metric, and the query
/// waits on for a good one until the server's timeout. Concurrent lookups of one name share one query.
/// </remarks>
public sealed partial class DnsResolver : IDisposable
{
    private const int MaxAliasQueries = 8;

    private readonly TransportRuntime _runtime;
    private readonly IPEndPoint[] _servers;
    private readonly string[] _searchDomains;
    private readonly int _ndots;
    private readonly int _attempts;
    private readonly TimeSpan _timeout;
    private readonly bool _rotate;
    private readonly HostsFile _hosts;
    private readonly DnsCache _cache;
    private readonly Dictionary<DnsCacheKey, Task<DnsCacheEntry>> _inFlight = [];
    private readonly Lock _inFlightLock = new();
    private readonly DnsUdpSocket?[] _udpSockets;
    private readonly Action<object?> _runLookup;
    private int _nextServer = -1;
    private volatile bool _disposed;

    /// <summary>Creates a resolver with the system's settings (/etc/resolv.conf and /etc/hosts).</summary>
    public DnsResolver()
        : this(DnsResolverOptions.FromResolvConf())
    {
    }

    /// <summary>Creates a resolver on the process's shared MNet loop.</summary>
    /// <exception cref="ArgumentException">An option is out of range, or a server or search domain is not valid.</exception>
    public DnsResolver(DnsResolverOptions options)
        : this(options, TransportRuntime.Shared, TimeProvider.System)
    {
    }

    internal DnsResolver(DnsResolverOptions options, TransportRuntime runtime, TimeProvider cacheClock)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _runtime = runtime;
        _servers = options.Servers.Count > 0 ? [.. options.Servers] : [new IPEndPoint(IPAddress.Loopback, 53)];
        _searchDomains = [.. options.SearchDomains.Select(domain => domain.TrimEnd('.'))];
        _ndots = options.Ndots;
        _attempts = options.Attempts;
        _timeout = options.Timeout;
        _rotate = options.Rotate;
        _udpSockets = new DnsUdpSocket?[_servers.Length];
        _hosts = HostsFile.Load(options.HostsFilePath);
        _cache = new DnsCache(options.MaxCacheEntries, cacheClock);
        _runLookup = state => _ = RunLookupAsync((DnsLookup)state!);
    }

    /// <summary>The answers kept for their TTL (for benchmarks and tests).</summary>
    internal DnsCache Cache => _cache;

    /// <summary>
    /// The addresses of <paramref name="hostName"/>: an address literal as it is, a name from the hosts file, the cache,
    /// or the name servers (with the search domains, as resolv.conf's <c>ndots</c> directs). A cached answer returns
    /// synchronously without allocating.
    /// </summary>
    /// <param name="hostName">A host name (ASCII; a trailing dot stops the search domains) or an address literal.</param>
    /// <param name="family"><see cref="AddressFamily.InterNetwork"/>, <see cref="AddressFamily.InterNetworkV6"/>, or
    /// <see cref="AddressFamily.Unspecified"/> for both (IPv4 addresses first).</param>
    /// <param name="cancellationToken">Stops this caller's wait; the query goes on for others asking the same name.</param>
    /// <exception cref="ArgumentException"><paramref name="hostName"/> is not a host name, or <paramref name="family"/> is not an IP family.</exception>
    /// <exception cref="SocketException">
    /// <see cref="SocketError.HostNotFound"/>: the name does not exist; <see cref="SocketError.NoData"/>: it has no
    /// address of the family; <see cref="SocketError.TryAgain"/>: no server answered (the message says why).
    /// </exception>
    public ValueTask<IReadOnlyList<IPAddress>> GetHostAddressesAsync(
        string hostName, AddressFamily family = AddressFamily.Unspecified, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(hostName);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (family is not (AddressFamily.Unspecified or AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
        {
            throw new ArgumentException($"Only InterNetwork, InterNetworkV6 or Unspecified can be resolved, not {family}.", nameof(family));
        }
        if (_cache.TryGet(hostName, family, out DnsCacheEntry? cached))
        {
            return cached.ToValueTask();
        }
        return cancellationToken.IsCancellationRequested
            ? ValueTask.FromCanceled<IReadOnlyList<IPAddress>>(cancellationToken)
            : LookupAsync(hostName, family, cancellationToken);
    }

    /// <summary>Closes the resolver's sockets; lookups still waiting for a server fail, and later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        _disposed = true;
        for (int i = 0; i < _udpSockets.Length; i++)
        {
            Interlocked.Exchange(ref _udpSockets[i], null)?.Dispose();
        }
    }

    private async ValueTask<IReadOnlyList<IPAddress>> LookupAsync(string hostName, AddressFamily family, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(hostName, out IPAddress? literal))
        {
            return family == AddressFamily.Unspecified || literal.AddressFamily == family
                ? [literal]
                : throw new SocketException((int)SocketError.NoData, $"{hostName} is not an address of family {family}.");
        }
        DnsQueryWriter.ValidateHostName(hostName, nameof(hostName));
        if (_hosts.Find(hostName, family) is { } fromHostsFile)
        {
            return fromHostsFile;
        }

        DnsCacheKey key = new(hostName, family);
        Task<DnsCacheEntry>? lookup;
        DnsLookup? started = null;
        lock (_inFlightLock)
        {
            if (!_inFlight.TryGetValue(key, out lookup))
            {
                started = new DnsLookup(key);
                _inFlight[key] = lookup = started.Task;
            }
        }
        if (started is not null)
        {
            // The lookup runs on a loop: its sends, its replies and the timers between them stay on one thread, and
            // only the answer crosses back to the callers' threads.
            _runtime.NextDatagramLoop().Schedule(_runLookup, started);
        }

        DnsCacheEntry entry = await lookup.WaitAsync(cancellationToken).ConfigureAwait(false);
        return await entry.ToValueTask().ConfigureAwait(false);
    }

    private async Task RunLookupAsync(DnsLookup lookup)
    {
        DnsCacheKey key = lookup.Key;
        try
        {
            DnsCacheEntry entry = await ResolveAsync(key.Name, key.Family).ConfigureAwait(false);
            _cache.Add(key.Name, key.Family, entry); // cached before it leaves the in-flight table: no gap between the two
            Complete(key);
            lookup.SetResult(entry);
        }
        catch (Exception ex)
        {
            Complete(key);
            lookup.SetException(ex);
        }
    }

    private void Complete(DnsCacheKey key)
    {
        lock (_inFlightLock)
        {
            _inFlight.Remove(key);
        }
    }

    /// <summary>Tries the name, and the name in each search domain, in resolv.conf's order until one has addresses.</summary>
    private async Task<DnsCacheEntry> ResolveAsync(string hostName, AddressFamily family)
    {
        uint negativeTimeToLive = uint.MaxValue;
        bool anyNoData = false;
        string? failure = null;
        foreach (string candidate in SearchCandidates(hostName))
        {
            DnsAnswer answer = family switch
            {
                AddressFamily.InterNetwork => await QueryAsync(candidate, DnsRecordType.A).ConfigureAwait(false),
                AddressFamily.InterNetworkV6 => await QueryAsync(candidate, DnsRecordType.Aaaa).ConfigureAwait(false),
                _ => await QueryBothAsync(candidate).ConfigureAwait(false),
            };
            switch (answer.Kind)
            {
                case DnsAnswerKind.Found:
                    return DnsCacheEntry.Found(answer.Addresses, TimeSpan.FromSeconds(answer.TimeToLive));
                case DnsAnswerKind.Failed:
                    failure = answer.Failure;
                    break;
                default:
                    anyNoData |= answer.Kind == DnsAnswerKind.NoData;
                    negativeTimeToLive = Math.Min(negativeTimeToLive, answer.TimeToLive);
                    break;
            }
        }

        if (failure is not null)
        {
            return DnsCacheEntry.NotFound(SocketError.TryAgain, $"{hostName} could not be resolved: {failure}", TimeSpan.Zero);
        }
        TimeSpan timeToLive = TimeSpan.FromSeconds(negativeTimeToLive);
        return anyNoData
            ? DnsCacheEntry.NotFound(SocketError.NoData, $"{hostName} has no address{FamilySuffix(family)}.", timeToLive)
            : DnsCacheEntry.NotFound(SocketError.HostNotFound, $"No such host is known: {hostName}", timeToLive);
    }

    private static string FamilySuffix(AddressFamily family) => family switch
    {
        AddressFamily.InterNetwork => " of family InterNetwork",
        AddressFamily.InterNetworkV6 => " of family InterNetworkV6",
        _ => string.Empty,
    };

    /// <summary>A and AAAA asked together (they leave in one sendmmsg): found if either found (IPv4 first), failed if either failed otherwise.</summary>
    private async Task<DnsAnswer> QueryBothAsync(string name)
    {
        Task<DnsAnswer> v4Query = QueryAsync(name, DnsRecordType.A);
        Task<DnsAnswer> v6Query = QueryAsync(name, DnsRecordType.Aaaa);
        DnsAnswer v4 = await v4Query.ConfigureAwait(false);
        DnsAnswer v6 = await v6Query.ConfigureAwait(false);
        uint timeToLive = Math.Min(v4.TimeToLive, v6.TimeToLive);
        if (v4.Kind == DnsAnswerKind.Found || v6.Kind == DnsAnswerKind.Found)
        {
            // A failed half is not known to be empty: keep the found half only as long as its own TTL says.
            timeToLive = v4.Kind == DnsAnswerKind.Failed ? v6.TimeToLive : v6.Kind == DnsAnswerKind.Failed ? v4.TimeToLive : timeToLive;
            IReadOnlyList<IPAddress> both = v6.Addresses.Count == 0 ? v4.Addresses : v4.Addresses.Count == 0 ? v6.Addresses : [.. v4.Addresses, .. v6.Addresses];
            return new DnsAnswer(DnsAnswerKind.Found, both, timeToLive);
        }
        if (v4.Kind == DnsAnswerKind.Failed || v6.Kind == DnsAnswerKind.Failed)
        {
            return v4.Kind == DnsAnswerKind.Failed ? v4 : v6;
        }
        DnsAnswerKind kind = v4.Kind == DnsAnswerKind.NameError && v6.Kind == DnsAnswerKind.NameError ? DnsAnswerKind.NameError : DnsAnswerKind.NoData;
        return new DnsAnswer(kind, [], timeToLive);
    }

    private IEnumerable<string> SearchCandidates(string hostName)
    {
        if (hostName.EndsWith('.'))
        {
            yield return hostName[..^1];
            yield break;
        }

        bool asIsFirst = hostName.AsSpan().Count('.') >= _ndots;
        if (asIsFirst)
        {
            yield return hostName;
        }
        foreach (string domain in _searchDomains)
        {
            if (hostName.Length + 1 + domain.Length <= 253)
            {
                yield return $"{hostName}.{domain}";
            }
        }
        if (!asIsFirst)
        {
            yield return hostName;
        }
    }

    /// <summary>Asks for one name and type, asking again for the alias target when a server returns only the alias.</summary>
    private async Task<DnsAnswer> QueryAsync(string name, DnsRecordType type)
    {
        uint chainTimeToLive = uint.MaxValue;
        string current = name;
        for (int query = 0; query < MaxAliasQueries; query++)
        {
            (DnsReply? reply, string? failure) = await ExchangeAsync(current, type).ConfigureAwait(false);
            if (reply is null)
            {
                return DnsAnswer.Failed(failure!);
            }

            uint negativeTimeToLive = reply.NegativeTimeToLive ?? 0; // no SOA, no negative caching (RFC 2308 5)
            if (reply.ResponseCode == DnsResponseCode.NameError)
            {
                return new DnsAnswer(DnsAnswerKind.NameError, [], negativeTimeToLive);
            }
            chainTimeToLive = Math.Min(chainTimeToLive, reply.TimeToLive);
            if (reply.Addresses.Count > 0)
            {
                return new DnsAnswer(DnsAnswerKind.Found, reply.Addresses, chainTimeToLive);
            }
            if (string.Equals(reply.CanonicalName, current, StringComparison.OrdinalIgnoreCase) || reply.NegativeTimeToLive is not null)
            {
                return new DnsAnswer(DnsAnswerKind.NoData, [], negativeTimeToLive);
            }
            current = reply.CanonicalName;
        }
        return DnsAnswer.Failed($"the CNAME chain from {name} needs more than {MaxAliasQueries} queries");
    }
}
