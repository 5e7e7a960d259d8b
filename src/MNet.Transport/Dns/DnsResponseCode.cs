namespace MNet.Transport.Dns;

/// <summary>RCODE of a DNS response header (RFC 1035 4.1.1).</summary>
internal enum DnsResponseCode
{
    NoError = 0,
    FormatError = 1,
    ServerFailure = 2,
    NameError = 3,
    NotImplemented = 4,
    Refused = 5,
}
