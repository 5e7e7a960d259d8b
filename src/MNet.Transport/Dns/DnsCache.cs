using System.Diagnostics.CodeAnalysis;
using System.Net.Sockets;

namespace MNet.Transport.Dns;

/// <summary>
/// Lookup outcomes, positive and negative, kept for their TTL on a monotonic clock. Bounded: when full, expired
/// entries go first, then an arbitrary eighth of the rest.
/// </summary>
internal sealed class DnsCache(int capacity, TimeProvider clock)
{
    private readonly Dictionary<DnsCacheKey, DnsCacheEntry> _entries = [];
    private readonly Lock _lock = new();

    public bool TryGet(string name, AddressFamily family, [NotNullWhen(true)] out DnsCacheEntry? entry)
    {
        DnsCacheKey key = new(name, family);
        lock (_lock)
        {
            if (_entries.TryGetValue(key, out entry))
            {
                if (clock.GetTimestamp() < entry.ExpiresAt)
                {
                    return true;
                }
                _entries.Remove(key);
            }
        }
        entry = null;
        return false;
    }

    /// <summary>Keeps <paramref name="entry"/> for its TTL; one of zero is not kept.</summary>
    public void Add(string name, AddressFamily family, DnsCacheEntry entry)
    {
        if (entry.TimeToLive <= TimeSpan.Zero || capacity == 0)
        {
            return;
        }

        long now = clock.GetTimestamp();
        entry.ExpiresAt = now + (long)(entry.TimeToLive.TotalSeconds * clock.TimestampFrequency);
        lock (_lock)
        {
            if (_entries.Count >= capacity)
            {
                MakeRoom(now);
            }
            _entries[new DnsCacheKey(name, family)] = entry;
        }
    }

    private void MakeRoom(long now)
    {
        foreach ((DnsCacheKey key, DnsCacheEntry entry) in _entries)
        {
            if (entry.ExpiresAt <= now)
            {
                _entries.Remove(key);
            }
        }
        int excess = _entries.Count - capacity + Math.Max(1, capacity / 8);
        foreach (DnsCacheKey key in _entries.Keys)
        {
            if (excess-- <= 0)
            {
                break;
            }
            _entries.Remove(key);
        }
    }
}
