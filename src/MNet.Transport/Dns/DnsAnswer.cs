using System.Net;

namespace MNet.Transport.Dns;

/// <summary>
/// The end of a query for one name and type. <see cref="TimeToLive"/> is how long it may be cached in seconds:
/// the least TTL met for a found answer, the SOA's for a negative one, 0 when it must not be cached.
/// </summary>
internal readonly record struct DnsAnswer(DnsAnswerKind Kind, IReadOnlyList<IPAddress> Addresses, uint TimeToLive, string? Failure = null)
{
    public static DnsAnswer Failed(string failure) => new(DnsAnswerKind.Failed, [], 0, failure);
}
