using System.Diagnostics.Metrics;

namespace MNet.Transport.Diagnostics;

/// <summary>The "MNet.Transport" meter: counters read with <see cref="MeterListener"/> or OpenTelemetry.</summary>
internal static class MNetMetrics
{
    public const string MeterName = "MNet.Transport";

    private static readonly Meter s_meter = new(MeterName);

    public static readonly Counter<long> DatagramsReceived = s_meter.CreateCounter<long>(
        "mnet.udp.datagrams.received", "{datagram}", "Datagrams delivered to UDP channels.");

    public static readonly Counter<long> DatagramsSent = s_meter.CreateCounter<long>(
        "mnet.udp.datagrams.sent", "{datagram}", "Datagrams sent by UDP channels.");

    public static readonly Counter<long> DatagramsDropped = s_meter.CreateCounter<long>(
        "mnet.udp.datagrams.dropped", "{datagram}", "Datagrams a UDP listener dropped because its handler queue was full.");

    public static readonly Counter<long> DatagramsTruncated = s_meter.CreateCounter<long>(
        "mnet.udp.datagrams.truncated", "{datagram}", "Datagrams longer than the buffer they were received into.");

    public static readonly Counter<long> DnsRepliesDropped = s_meter.CreateCounter<long>(
        "mnet.dns.replies.dropped", "{reply}", "DNS replies a resolver ignored; tagged reason=malformed (broke the wire format) or mismatched (another id, question or source).");
}
