using System.Collections.Concurrent;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>
/// The records a fake DNS server answers from, as an authoritative server with recursion would: CNAME chains
/// followed into the answer, NXDOMAIN for unknown names and NODATA otherwise, both with an SOA for negative caching.
/// </summary>
internal sealed class FakeDnsZone
{
    private readonly ConcurrentDictionary<string, List<(ushort Type, uint Ttl, byte[] Data)>> _records = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The SOA minimum (and TTL) sent with negative answers.</summary>
    public uint NegativeTtl { get; set; } = 60;

    public FakeDnsZone Add(string name, ushort type, uint ttl, byte[] data)
    {
        List<(ushort, uint, byte[])> records = _records.GetOrAdd(name, _ => []);
        lock (records)
        {
            records.Add((type, ttl, data));
        }
        return this;
    }

    public FakeDnsZone AddA(string name, string address, uint ttl = 300) => Add(name, DnsWire.A, ttl, DnsWire.AddressData(address));

    public FakeDnsZone AddAaaa(string name, string address, uint ttl = 300) => Add(name, DnsWire.Aaaa, ttl, DnsWire.AddressData(address));

    public FakeDnsZone AddCName(string name, string target, uint ttl = 300) => Add(name, DnsWire.CName, ttl, DnsWire.EncodeName(target));

    public byte[] Answer(FakeDnsQuery query)
    {
        string current = query.Name;
        List<(string Name, ushort Type, uint Ttl, byte[] Data)> answers = [];
        for (int hops = 0; hops < 16; hops++)
        {
            if (!_records.TryGetValue(current, out List<(ushort Type, uint Ttl, byte[] Data)>? records))
            {
                if (answers.Count == 0)
                {
                    return Negative(query, DnsWire.NameError, answers);
                }
                break;
            }
            lock (records)
            {
                (ushort Type, uint Ttl, byte[] Data) alias = records.Find(r => r.Type == DnsWire.CName);
                if (alias.Data is not null && query.Type != DnsWire.CName)
                {
                    answers.Add((current, alias.Type, alias.Ttl, alias.Data));
                    current = string.Join('.', ReadLabels(alias.Data));
                    continue;
                }
                foreach ((ushort type, uint ttl, byte[] data) in records.Where(r => r.Type == query.Type))
                {
                    answers.Add((current, type, ttl, data));
                }
            }
            break;
        }

        if (!answers.Any(a => a.Type == query.Type))
        {
            return Negative(query, 0, answers);
        }
        DnsWire reply = new(query.Id, DnsWire.ResponseFlags, query.Name, query.Type);
        foreach ((string name, ushort type, uint ttl, byte[] data) in answers)
        {
            reply.Answer(name, type, ttl, data);
        }
        return reply.Build();
    }

    private byte[] Negative(FakeDnsQuery query, ushort responseCode, List<(string Name, ushort Type, uint Ttl, byte[] Data)> chain)
    {
        DnsWire reply = new(query.Id, (ushort)(DnsWire.ResponseFlags | responseCode), query.Name, query.Type);
        foreach ((string name, ushort type, uint ttl, byte[] data) in chain)
        {
            reply.Answer(name, type, ttl, data);
        }
        return reply.Authority("test", DnsWire.Soa, NegativeTtl, DnsWire.SoaData(NegativeTtl)).Build();
    }

    private static IEnumerable<string> ReadLabels(byte[] encodedName)
    {
        for (int offset = 0; encodedName[offset] != 0; offset += 1 + encodedName[offset])
        {
            yield return System.Text.Encoding.ASCII.GetString(encodedName, offset + 1, encodedName[offset]);
        }
    }
}
