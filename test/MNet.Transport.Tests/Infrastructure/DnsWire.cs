using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>
/// DNS messages built byte by byte for tests, independently of the resolver's own code: names are written
/// uncompressed unless a test writes pointers itself.
/// </summary>
internal sealed class DnsWire
{
    public const ushort A = 1, CName = 5, Soa = 6, Ptr = 12, Aaaa = 28;
    public const ushort ResponseFlags = 0x8180; // QR, RD, RA
    public const ushort Truncated = 0x0200;
    public const ushort NameError = 3;

    private readonly List<byte> _bytes = [];
    private int _answers;
    private int _authorities;

    public DnsWire(ushort id, ushort flags, string questionName, ushort questionType)
    {
        AddUInt16(id);
        AddUInt16(flags);
        AddUInt16(1);
        AddUInt16(0);
        AddUInt16(0);
        AddUInt16(0);
        _bytes.AddRange(EncodeName(questionName));
        AddUInt16(questionType);
        AddUInt16(1);
    }

    public DnsWire Answer(string name, ushort type, uint ttl, byte[] data)
    {
        _answers++;
        return Record(EncodeName(name), type, ttl, data);
    }

    /// <summary>An answer whose owner is given as raw bytes (a compression pointer, say).</summary>
    public DnsWire Answer(byte[] rawName, ushort type, uint ttl, byte[] data)
    {
        _answers++;
        return Record(rawName, type, ttl, data);
    }

    public DnsWire Authority(string name, ushort type, uint ttl, byte[] data)
    {
        _authorities++;
        return Record(EncodeName(name), type, ttl, data);
    }

    public byte[] Build()
    {
        byte[] message = [.. _bytes];
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(6), (ushort)_answers);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(8), (ushort)_authorities);
        return message;
    }

    public static byte[] EncodeName(string name)
    {
        List<byte> bytes = [];
        foreach (string label in name.TrimEnd('.').Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            bytes.Add((byte)label.Length);
            bytes.AddRange(Encoding.ASCII.GetBytes(label));
        }
        bytes.Add(0);
        return [.. bytes];
    }

    public static byte[] SoaData(uint minimum)
    {
        List<byte> bytes = [.. EncodeName("ns.test"), .. EncodeName("admin.test")];
        byte[] numbers = new byte[20];
        BinaryPrimitives.WriteUInt32BigEndian(numbers, 1);            // serial
        BinaryPrimitives.WriteUInt32BigEndian(numbers.AsSpan(4), 3600);  // refresh
        BinaryPrimitives.WriteUInt32BigEndian(numbers.AsSpan(8), 600);   // retry
        BinaryPrimitives.WriteUInt32BigEndian(numbers.AsSpan(12), 86400); // expire
        BinaryPrimitives.WriteUInt32BigEndian(numbers.AsSpan(16), minimum);
        bytes.AddRange(numbers);
        return [.. bytes];
    }

    public static byte[] AddressData(string address) => IPAddress.Parse(address).GetAddressBytes();

    /// <summary>The id, name and type of a query (uncompressed, as resolvers send them).</summary>
    public static (ushort Id, string Name, ushort Type) ReadQuery(ReadOnlySpan<byte> query)
    {
        ushort id = BinaryPrimitives.ReadUInt16BigEndian(query);
        int offset = 12;
        List<string> labels = [];
        while (query[offset] != 0)
        {
            labels.Add(Encoding.ASCII.GetString(query.Slice(offset + 1, query[offset])));
            offset += 1 + query[offset];
        }
        return (id, string.Join('.', labels), BinaryPrimitives.ReadUInt16BigEndian(query[(offset + 1)..]));
    }

    private DnsWire Record(byte[] name, ushort type, uint ttl, byte[] data)
    {
        _bytes.AddRange(name);
        AddUInt16(type);
        AddUInt16(1);
        AddUInt16((ushort)(ttl >> 16));
        AddUInt16((ushort)ttl);
        AddUInt16((ushort)data.Length);
        _bytes.AddRange(data);
        return this;
    }

    private void AddUInt16(ushort value)
    {
        _bytes.Add((byte)(value >> 8));
        _bytes.Add((byte)value);
    }
}
