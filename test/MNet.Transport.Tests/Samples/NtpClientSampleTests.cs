using System.Globalization;
using System.Text.RegularExpressions;
using MNet.Transport.Tests.Infrastructure;

namespace MNet.Transport.Tests.Samples;

/// <summary>The NtpClient sample run as a process: m_net's NTP example, against a DNS server and an NTP server on loopback.</summary>
public sealed partial class NtpClientSampleTests
{
    private static readonly TimeSpan ExitLimit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ResolvesTheServersName_AndPrintsItsClockOffset()
    {
        await using NtpResponder ntp = new(clockOffset: TimeSpan.FromSeconds(2.5), sendDecoy: true);
        await using FakeDnsServer dns = FakeDnsServer.Start();
        dns.Zone.AddA("time.mnet.test", "127.0.0.1");

        await using SampleProcess client = SampleProcess.StartNtpClient($"time.mnet.test:{ntp.EndPoint.Port}", "--dns", dns.EndPoint.ToString());

        Assert.Equal(0, await client.WaitForExitAsync(ExitLimit));
        Match line = OutputLine().Match(client.Output);
        Assert.True(line.Success, client.Output);
        Assert.Equal($"127.0.0.1:{ntp.EndPoint.Port}", line.Groups["server"].Value);
        // The decoy, an hour off, answered no request and was ignored; loopback adds far less than 0.5 s of error.
        double offset = double.Parse(line.Groups["offset"].Value, CultureInfo.InvariantCulture);
        Assert.InRange(offset, 2.0, 3.0);
        Assert.InRange(double.Parse(line.Groups["delay"].Value, CultureInfo.InvariantCulture), -0.5, 0.5);
        Assert.Contains(dns.Queries, q => q.Name == "time.mnet.test");
    }

    [Fact]
    public async Task ARequestLeftUnanswered_IsSentAgainAfterTheTimeout()
    {
        await using NtpResponder ntp = new(clockOffset: TimeSpan.Zero, ignoreFirst: 2);

        await using SampleProcess client = SampleProcess.StartNtpClient(ntp.EndPoint.ToString(), "--timeout", "200", "--attempts", "3");

        Assert.Equal(0, await client.WaitForExitAsync(ExitLimit));
        Assert.Matches(OutputLine(), client.Output);
        Assert.Equal(3, await ntp.WaitForRequestsAsync(3));
    }

    [Fact]
    public async Task AServerThatNeverAnswers_EndsWithAClearError()
    {
        await using NtpResponder ntp = new(clockOffset: TimeSpan.Zero, ignoreFirst: int.MaxValue);

        await using SampleProcess client = SampleProcess.StartNtpClient(ntp.EndPoint.ToString(), "--timeout", "100", "--attempts", "2");

        Assert.Equal(1, await client.WaitForExitAsync(ExitLimit));
        Assert.Equal($"ntp: {ntp.EndPoint} did not answer 2 request(s) of 100 ms each.", client.Output);
        Assert.Equal(2, await ntp.WaitForRequestsAsync(2));
    }

    [GeneratedRegex(@"^server (?<server>\S+) \(\S+\) stratum 1 offset (?<offset>[+-]\d+\.\d+) s delay (?<delay>-?\d+\.\d+) s$", RegexOptions.Multiline)]
    private static partial Regex OutputLine();
}
