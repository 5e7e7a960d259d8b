using System.Net;

namespace MNet.Transport.Dns;

/// <summary>
/// What a reply says about one question: its response code and, following the CNAME chain from the name asked
/// through the answer section, the addresses of the type asked that the chain ends at, with the least TTL met on
/// the way. Records of other types, classes or owners are skipped, never read as addresses.
/// </summary>
internal sealed class DnsReply
{
    private const int MaxChainLength = 16;

    private DnsReply(DnsResponseCode responseCode, bool isTruncated, string canonicalName)
    {
        ResponseCode = responseCode;
        IsTruncated = isTruncated;
        CanonicalName = canonicalName;
    }

    public DnsResponseCode ResponseCode { get; }

    /// <summary>The TC bit: the answer did not fit the datagram and must be asked again over TCP.</summary>
    public bool IsTruncated { get; }

    /// <summary>Where the CNAME chain in the answer ends: the name asked if there was none.</summary>
    public string CanonicalName { get; private set; }

    /// <summary>The addresses the chain ends at, in the reply's order (read-only: they may end up in the cache).</summary>
    public IReadOnlyList<IPAddress> Addresses { get; private set; } = [];

    /// <summary>The least TTL of the chain's records and the addresses, in seconds.</summary>
    public uint TimeToLive { get; private set; } = uint.MaxValue;

    /// <summary>How long a negative answer may be cached (RFC 2308), or null when the reply carries no SOA record.</summary>
    public uint? NegativeTimeToLive { get; private set; }

    /// <summary>
    /// Reads a reply to the query <paramref name="id"/> for <paramref name="name"/> and <paramref name="type"/>; null
    /// when it is not one (another id, not a response, another question).
    /// </summary>
    /// <exception cref="DnsFormatException">The reply breaks the wire format.</exception>
    public static DnsReply? Parse(ReadOnlySpan<byte> message, ushort id, string name, DnsRecordType type)
    {
        DnsMessageReader reader = new(message);
        DnsHeader header = reader.ReadHeader();
        if (header.Id != id || !header.IsResponse)
        {
            return null;
        }
        if (header.QuestionCount != 1)
        {
            throw new DnsFormatException($"A reply carries {header.QuestionCount} questions instead of the one asked.");
        }
        (string questionName, DnsRecordType questionType, ushort questionClass) = reader.ReadQuestion(name);
        if (!ReferenceEquals(questionName, name) || questionType != type || questionClass != DnsRecord.InternetClass)
        {
            return null;
        }

        DnsReply reply = new(header.ResponseCode, header.IsTruncated, name);
        if (header.IsTruncated)
        {
            return reply; // what follows may be cut anywhere; the whole answer comes over TCP
        }

        List<(string Owner, string Target, uint Ttl)>? aliases = null;
        List<(string Owner, IPAddress Address, uint Ttl)>? addresses = null;
        string lastName = name; // owners mostly repeat the question or the alias just read: no new string for those
        for (int i = 0; i < header.AnswerCount; i++)
        {
            DnsRecord record = reader.ReadRecord(lastName);
            lastName = record.Name;
            if (record.Class != DnsRecord.InternetClass)
            {
                continue;
            }
            if (record.Type == DnsRecordType.CName)
            {
                lastName = reader.ReadCanonicalName(record);
                (aliases ??= []).Add((record.Name, lastName, record.TimeToLive));
            }
            else if (record.Type == type)
            {
                (addresses ??= []).Add((record.Name, reader.ReadAddress(record), record.TimeToLive));
            }
        }
        for (int i = 0; i < header.AuthorityCount; i++)
        {
            DnsRecord record = reader.ReadRecord(name);
            if (record.Type == DnsRecordType.Soa && record.Class == DnsRecord.InternetClass)
            {
                uint ttl = Math.Min(record.TimeToLive, reader.ReadSoaMinimum(record));
                reply.NegativeTimeToLive = Math.Min(ttl, reply.NegativeTimeToLive ?? uint.MaxValue);
            }
        }

        reply.FollowChain(aliases, addresses);
        return reply;
    }

    private void FollowChain(List<(string Owner, string Target, uint Ttl)>? aliases, List<(string Owner, IPAddress Address, uint Ttl)>? addresses)
    {
        string current = CanonicalName;
        for (int hops = 0; aliases is not null; hops++)
        {
            int alias = IndexOfAlias(aliases, current);
            if (alias < 0)
            {
                break;
            }
            if (hops == MaxChainLength)
            {
                throw new DnsFormatException($"The CNAME chain from {CanonicalName} is longer than {MaxChainLength} or loops.");
            }
            TimeToLive = Math.Min(TimeToLive, aliases[alias].Ttl);
            current = aliases[alias].Target;
        }
        CanonicalName = current;
        if (addresses is null)
        {
            return;
        }

        int count = 0;
        foreach ((string owner, _, _) in addresses)
        {
            count += string.Equals(owner, current, StringComparison.OrdinalIgnoreCase) ? 1 : 0;
        }
        if (count == 0)
        {
            return;
        }
        IPAddress[] found = new IPAddress[count];
        count = 0;
        foreach ((string owner, IPAddress address, uint ttl) in addresses)
        {
            if (string.Equals(owner, current, StringComparison.OrdinalIgnoreCase))
            {
                found[count++] = address;
                TimeToLive = Math.Min(TimeToLive, ttl);
            }
        }
        Addresses = Array.AsReadOnly(found);
    }

    private static int IndexOfAlias(List<(string Owner, string Target, uint Ttl)> aliases, string owner)
    {
        for (int i = 0; i < aliases.Count; i++)
        {
            if (string.Equals(aliases[i].Owner, owner, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }
        return -1;
    }
}
