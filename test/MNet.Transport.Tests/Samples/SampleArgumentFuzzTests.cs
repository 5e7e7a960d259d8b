using System.Globalization;
using System.Net;
using MNet.Transport.Tests.Infrastructure;
using Samples;

namespace MNet.Transport.Tests.Samples;

/// <summary>
/// Seeded mutations of the samples' command-line values: every one either parses to a value within the option's
/// limits or is refused with an <see cref="ArgumentException"/> that quotes it; nothing else escapes.
/// </summary>
public sealed class SampleArgumentFuzzTests
{
    private const int Iterations = 50_000;

    private static readonly string[] s_endPoints =
        ["127.0.0.1:7000", "[::1]:7001", "0.0.0.0:0", "[fe80::1%1]:65535", "localhost:123", "pool.ntp.org", "::1", "10.1.2.3"];

    private static readonly string[] s_fragments = [":", ":0", ":65536", ":-1", "[", "]", "[::", "%", "::ffff:", "0x7f.1", "1e3", " ", "\u0661\u0662"];

    [Fact]
    public void Fuzz_EndPoints_ParseWithinLimits_OrAreRefusedQuotingTheText()
    {
        Random random = new(7000);
        int parsed = 0, refused = 0;
        for (int i = 0; i < Iterations; i++)
        {
            string text = TextMutator.Mutate(s_endPoints[random.Next(s_endPoints.Length)], random, s_fragments);
            bool allowPortZero = random.Next(2) == 0;
            try
            {
                IPEndPoint endPoint = ArgumentText.ParseIPEndPoint(text, "--tcp endpoint", allowPortZero);
                Assert.InRange(endPoint.Port, allowPortZero ? 0 : 1, IPEndPoint.MaxPort);
                Assert.Equal(endPoint, ArgumentText.ParseIPEndPoint(endPoint.ToString(), "again", allowPortZero));
                parsed++;
            }
            catch (ArgumentException ex)
            {
                Assert.Contains($"'{text}'", ex.Message, StringComparison.Ordinal);
                refused++;
            }

            try
            {
                (string host, int port) = ArgumentText.ParseHostAndPort(text, defaultPort: 123);
                Assert.NotEmpty(host);
                Assert.InRange(port, 1, IPEndPoint.MaxPort);
            }
            catch (ArgumentException ex)
            {
                Assert.Contains(text.Length == 0 ? "empty" : $"'{text}'", ex.Message, StringComparison.Ordinal);
            }
        }
        Assert.True(parsed > Iterations / 50 && refused > Iterations / 20, $"parsed {parsed}, refused {refused}");
    }

    [Fact]
    public void Fuzz_Counts_AreWithinTheirLimit_OrAreRefusedQuotingTheText()
    {
        Random random = new(64);
        string[] seeds = ["64", "1", "256", "67108864", "9223372036854775807", "0"];
        string[] fragments = ["-", "+", "0", "9999999999", "\u0663", " ", "e2", ".5", ","];
        int parsed = 0, refused = 0;
        for (int i = 0; i < Iterations; i++)
        {
            string text = TextMutator.Mutate(seeds[random.Next(seeds.Length)], random, fragments);
            long max = random.Next(2) == 0 ? 256 : long.MaxValue;
            try
            {
                long value = ArgumentText.ParsePositive(text, "--connections", max);
                Assert.InRange(value, 1, max);
                Assert.Equal(value, long.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture));
                parsed++;
            }
            catch (ArgumentException ex)
            {
                Assert.Contains($"'{text}'", ex.Message, StringComparison.Ordinal);
                refused++;
            }
        }
        Assert.True(parsed > Iterations / 50 && refused > Iterations / 20, $"parsed {parsed}, refused {refused}");
    }

    // Whole command lines for the EchoServer sample: options, endpoints and counts in any order, cut and mutated.
    [Fact]
    public void Fuzz_EchoServerCommandLines_OnlyEverRefuseWithArgumentException()
    {
        Random random = new(7443);
        string line = "127.0.0.1:7000 --unix /tmp/echo.sock --connections 64 --bytes 1048576 --processes 2";
        string[] fragments = [" --", " --unix ", " --connections ", " --bytes -1", " 99999999999999999999", " [::1]:0", "\0", " --unix \0"];
        for (int i = 0; i < Iterations; i++)
        {
            string[] args = TextMutator.Mutate(line, random, fragments).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            try
            {
                SampleArguments arguments = SampleArguments.Parse(args);
                Assert.InRange(arguments.Number("connections", 64, max: 65_536), 1, 65_536);
                Assert.InRange(arguments.Number("bytes", 1, max: long.MaxValue), 1, long.MaxValue);
                Assert.NotNull(arguments.RemoteEndPoint());
            }
            catch (ArgumentException)
            {
                // refused with its reason, which the sample prints before its usage
            }
        }
    }
}
