namespace NtpClient;

/// <summary>What one SNTP exchange measured (RFC 4330 section 5).</summary>
/// <param name="Offset">How far the server's clock is ahead of ours.</param>
/// <param name="RoundTripDelay">The network's share of the round trip: its time minus the server's processing time.</param>
/// <param name="Stratum">The server's distance from a reference clock (1: attached to one).</param>
internal sealed record SntpResult(TimeSpan Offset, TimeSpan RoundTripDelay, int Stratum);
