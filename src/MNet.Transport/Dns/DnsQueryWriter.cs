using System.Buffers.Binary;

namespace MNet.Transport.Dns;

/// <summary>Writes a standard recursive query with one question, and checks host names before anything is sent.</summary>
internal static class DnsQueryWriter
{
    /// <summary>A query's size at most: the header, a name of 255 octets, type and class.</summary>
    public const int MaxQuerySize = DnsHeader.Size + 255 + 4;

    private const ushort RecursionDesired = 0x0100;
    private const int MaxLabelLength = 63;
    private const int MaxNameLength = 253; // in text without a trailing dot: 255 octets on the wire

    /// <summary>Writes the query into <paramref name="destination"/> and returns its length.</summary>
    public static int Write(Span<byte> destination, ushort id, string name, DnsRecordType type)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, id);
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], RecursionDesired);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], 1);
        destination[6..DnsHeader.Size].Clear();
        int offset = DnsHeader.Size;
        foreach (Range label in name.AsSpan().Split('.'))
        {
            ReadOnlySpan<char> text = name.AsSpan()[label];
            if (text.IsEmpty)
            {
                continue; // only a trailing dot can leave one: ValidateHostName refused the rest
            }
            destination[offset++] = (byte)text.Length;
            foreach (char c in text)
            {
                destination[offset++] = (byte)c;
            }
        }
        destination[offset++] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(destination[offset..], (ushort)type);
        BinaryPrimitives.WriteUInt16BigEndian(destination[(offset + 2)..], DnsRecord.InternetClass);
        return offset + 4;
    }

    /// <summary>
    /// Throws <see cref="ArgumentException"/> unless <paramref name="name"/> can be asked for (see <see cref="FindHostNameError"/>).
    /// </summary>
    public static void ValidateHostName(string name, string parameterName)
    {
        if (FindHostNameError(name) is { } error)
        {
            throw new ArgumentException($"'{name}' is not a host name: {error}", parameterName);
        }
    }

    /// <summary>
    /// Why <paramref name="name"/> cannot be asked for, or null when it can: it needs ASCII labels of 1 to 63
    /// characters (no dot, backslash, space or control character), 253 characters in all, one trailing dot allowed.
    /// Internationalized names must come already converted to ASCII ("xn--" labels).
    /// </summary>
    public static string? FindHostNameError(string name)
    {
        ReadOnlySpan<char> text = name.EndsWith('.') ? name.AsSpan(0, name.Length - 1) : name;
        if (text.IsEmpty || text.Length > MaxNameLength)
        {
            return $"it must have 1 to {MaxNameLength} characters.";
        }
        foreach (Range label in text.Split('.'))
        {
            int length = label.GetOffsetAndLength(text.Length).Length;
            if (length is 0 or > MaxLabelLength)
            {
                return $"each label must have 1 to {MaxLabelLength} characters.";
            }
        }
        foreach (char c in text)
        {
            if (c is <= ' ' or >= '\x7F' or '\\')
            {
                return $"'{c}' (U+{(int)c:X4}) cannot be sent; convert internationalized names to ASCII (IdnMapping) first.";
            }
        }
        return null;
    }
}
