namespace MNet.Transport.Udp;

/// <summary>The integer socket options <see cref="UdpChannel"/> exposes, each with an IPv4 and an IPv6 form where the two differ.</summary>
internal enum UdpSocketOption
{
    Broadcast,
    TimeToLive,
    MulticastTimeToLive,
    MulticastLoopback,
}
