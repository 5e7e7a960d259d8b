using System.Buffers.Binary;
using System.Net;

namespace MNet.Transport.Dns;

/// <summary>
/// Reads a DNS message front to back and trusts nothing in it: every length is checked against the bytes that are
/// there, compression pointers must point strictly backwards (so they cannot loop), names stay within 255 octets,
/// and RDATA is read only as the type the record claims, filling exactly its RDLENGTH. Any violation throws
/// <see cref="DnsFormatException"/>.
/// </summary>
internal ref struct DnsMessageReader
{
    private const int MaxNameOctets = 255;
    private const int MaxNameChars = MaxNameOctets * 4; // every octet escaped as \DDD at worst

    private readonly ReadOnlySpan<byte> _message;
    private int _offset;

    public DnsMessageReader(ReadOnlySpan<byte> message)
    {
        _message = message;
    }

    public DnsHeader ReadHeader()
    {
        if (_message.Length < DnsHeader.Size)
        {
            throw new DnsFormatException($"The message has {_message.Length} bytes, fewer than a header's {DnsHeader.Size}.");
        }
        _offset = DnsHeader.Size;
        return new DnsHeader(
            BinaryPrimitives.ReadUInt16BigEndian(_message),
            BinaryPrimitives.ReadUInt16BigEndian(_message[2..]),
            BinaryPrimitives.ReadUInt16BigEndian(_message[4..]),
            BinaryPrimitives.ReadUInt16BigEndian(_message[6..]),
            BinaryPrimitives.ReadUInt16BigEndian(_message[8..]),
            BinaryPrimitives.ReadUInt16BigEndian(_message[10..]));
    }

    /// <param name="expectedName">The name the question should carry: returned, instead of a new string, when it does.</param>
    public (string Name, DnsRecordType Type, ushort Class) ReadQuestion(string? expectedName = null)
    {
        string name = ReadName(ref _offset, _message.Length, expectedName);
        ReadOnlySpan<byte> fixedPart = Take(4, "question");
        return (name, (DnsRecordType)BinaryPrimitives.ReadUInt16BigEndian(fixedPart), BinaryPrimitives.ReadUInt16BigEndian(fixedPart[2..]));
    }

    /// <param name="likelyOwner">A name the owner probably is: returned, instead of a new string, when it is.</param>
    public DnsRecord ReadRecord(string? likelyOwner = null)
    {
        string name = ReadName(ref _offset, _message.Length, likelyOwner);
        ReadOnlySpan<byte> fixedPart = Take(10, "resource record");
        uint ttl = BinaryPrimitives.ReadUInt32BigEndian(fixedPart[4..]);
        int dataLength = BinaryPrimitives.ReadUInt16BigEndian(fixedPart[8..]);
        int dataOffset = _offset;
        Take(dataLength, "RDATA");
        return new DnsRecord(
            name,
            (DnsRecordType)BinaryPrimitives.ReadUInt16BigEndian(fixedPart),
            BinaryPrimitives.ReadUInt16BigEndian(fixedPart[2..]),
            ttl > int.MaxValue ? 0 : ttl, // RFC 2181 8: a TTL with the top bit set means zero
            dataOffset,
            dataLength);
    }

    /// <summary>The address of an A (4 bytes) or AAAA (16 bytes) record.</summary>
    public readonly IPAddress ReadAddress(in DnsRecord record)
    {
        int expected = record.Type switch
        {
            DnsRecordType.A => 4,
            DnsRecordType.Aaaa => 16,
            _ => throw new InvalidOperationException($"A {record.Type} record holds no address."),
        };
        if (record.DataLength != expected)
        {
            throw new DnsFormatException($"A {record.Type} record of {record.Name} has {record.DataLength} bytes of data instead of {expected}.");
        }
        return new IPAddress(_message.Slice(record.DataOffset, record.DataLength));
    }

    /// <summary>The target of a CNAME record, which must fill its RDATA exactly.</summary>
    public readonly string ReadCanonicalName(in DnsRecord record)
    {
        Expect(record, DnsRecordType.CName);
        int offset = record.DataOffset;
        string target = ReadName(ref offset, record.DataOffset + record.DataLength, known: null);
        ExpectEnd(record, offset);
        return target;
    }

    /// <summary>The MINIMUM field of an SOA record (RFC 2308: the TTL of negative answers).</summary>
    public readonly uint ReadSoaMinimum(in DnsRecord record)
    {
        Expect(record, DnsRecordType.Soa);
        int end = record.DataOffset + record.DataLength;
        int offset = record.DataOffset;
        ReadName(ref offset, end, known: null); // MNAME
        ReadName(ref offset, end, known: null); // RNAME
        if (end - offset != 20)
        {
            throw new DnsFormatException($"The SOA record of {record.Name} does not end with its five 32-bit fields.");
        }
        uint minimum = BinaryPrimitives.ReadUInt32BigEndian(_message[(offset + 16)..]);
        return minimum > int.MaxValue ? 0 : minimum;
    }

    private static void Expect(in DnsRecord record, DnsRecordType type)
    {
        if (record.Type != type)
        {
            throw new InvalidOperationException($"A {record.Type} record is not a {type} record.");
        }
    }

    private static void ExpectEnd(in DnsRecord record, int offset)
    {
        if (offset != record.DataOffset + record.DataLength)
        {
            throw new DnsFormatException($"The {record.Type} record of {record.Name} has data after its name.");
        }
    }

    private ReadOnlySpan<byte> Take(int count, string what)
    {
        if (count > _message.Length - _offset)
        {
            throw new DnsFormatException($"The message ends inside a {what}.");
        }
        ReadOnlySpan<byte> taken = _message.Slice(_offset, count);
        _offset += count;
        return taken;
    }

    /// <summary>
    /// Reads the name at <paramref name="offset"/>, whose uncompressed start must end before <paramref name="limit"/>,
    /// and moves <paramref name="offset"/> past it. Labels are joined with dots (no trailing dot; the root is ".");
    /// a dot, backslash or unprintable octet inside a label is written \DDD, so no decoded name can pass for another.
    /// A name equal to <paramref name="known"/> (ignoring case, as DNS does) comes back as that string, without allocating.
    /// </summary>
    private readonly string ReadName(ref int offset, int limit, string? known)
    {
        Span<char> text = stackalloc char[MaxNameChars];
        int textLength = 0;
        int octets = 1; // the root label
        int position = offset;
        int segmentStart = offset; // a pointer must point before the segment that holds it
        bool jumped = false;
        while (true)
        {
            if (position >= limit)
            {
                throw new DnsFormatException("A name runs past the end of its record or message.");
            }

            int length = _message[position];
            if ((length & 0xC0) == 0xC0)
            {
                if (position + 2 > limit)
                {
                    throw new DnsFormatException("A compression pointer is cut off.");
                }
                int target = ((length & 0x3F) << 8) | _message[position + 1];
                if (target >= segmentStart || target < DnsHeader.Size)
                {
                    throw new DnsFormatException($"A compression pointer at {position} does not point back to an earlier name ({target}).");
                }
                if (!jumped)
                {
                    offset = position + 2;
                    jumped = true;
                }
                position = segmentStart = target;
                limit = _message.Length; // the earlier occurrence lies anywhere before
                continue;
            }
            if ((length & 0xC0) != 0)
            {
                throw new DnsFormatException($"Label type 0x{length & 0xC0:X2} at {position} is not supported.");
            }
            if (length == 0)
            {
                if (!jumped)
                {
                    offset = position + 1;
                }
                ReadOnlySpan<char> name = textLength == 0 ? "." : text[..textLength];
                return known is not null && name.Equals(known, StringComparison.OrdinalIgnoreCase) ? known : new string(name);
            }

            octets += length + 1;
            if (octets > MaxNameOctets)
            {
                throw new DnsFormatException($"A name is longer than {MaxNameOctets} octets.");
            }
            if (position + 1 + length > limit)
            {
                throw new DnsFormatException("A label runs past the end of its record or message.");
            }
            if (textLength > 0)
            {
                text[textLength++] = '.';
            }
            foreach (byte octet in _message.Slice(position + 1, length))
            {
                textLength += AppendOctet(text[textLength..], octet);
            }
            position += 1 + length;
        }
    }

    private static int AppendOctet(Span<char> destination, byte octet)
    {
        if (octet is > 0x20 and < 0x7F and not (byte)'.' and not (byte)'\\')
        {
            destination[0] = (char)octet;
            return 1;
        }
        destination[0] = '\\';
        destination[1] = (char)('0' + octet / 100);
        destination[2] = (char)('0' + octet / 10 % 10);
        destination[3] = (char)('0' + octet % 10);
        return 4;
    }
}
