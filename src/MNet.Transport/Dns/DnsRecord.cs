namespace MNet.Transport.Dns;

/// <summary>A resource record as read: its owner name, type, class and TTL, and where its RDATA lies in the message.</summary>
internal readonly record struct DnsRecord(string Name, DnsRecordType Type, ushort Class, uint TimeToLive, int DataOffset, int DataLength)
{
    public const ushort InternetClass = 1;
}
