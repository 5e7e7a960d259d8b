namespace MNet.Transport.Dns;

/// <summary>The resource record types the resolver reads; every other type is skipped by its number, never reinterpreted.</summary>
internal enum DnsRecordType : ushort
{
    A = 1,
    CName = 5,
    Soa = 6,
    Aaaa = 28,
}
