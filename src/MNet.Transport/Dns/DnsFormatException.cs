namespace MNet.Transport.Dns;

/// <summary>A DNS message broke the wire format; the reply it came in is dropped.</summary>
internal sealed class DnsFormatException(string message) : Exception(message);
