namespace MNet.Transport.Dns;

/// <summary>The fixed 12-byte header of a DNS message (RFC 1035 4.1.1).</summary>
internal readonly record struct DnsHeader(ushort Id, ushort Flags, int QuestionCount, int AnswerCount, int AuthorityCount, int AdditionalCount)
{
    public const int Size = 12;

    public bool IsResponse => (Flags & 0x8000) != 0;

    public bool IsTruncated => (Flags & 0x0200) != 0;

    public DnsResponseCode ResponseCode => (DnsResponseCode)(Flags & 0xF);
}
