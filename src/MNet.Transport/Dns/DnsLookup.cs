namespace MNet.Transport.Dns;

/// <summary>One lookup in flight, shared by every caller asking the same name and family until it completes.</summary>
internal sealed class DnsLookup(DnsCacheKey key) : TaskCompletionSource<DnsCacheEntry>(TaskCreationOptions.RunContinuationsAsynchronously)
{
    public DnsCacheKey Key { get; } = key;
}
