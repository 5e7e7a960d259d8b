using System.Globalization;
using System.Net;
using MNet.Transport.Dns;
using NtpClient;

// m_net's NTP example: resolve a time server's name without blocking, then ask it the time over UDP.
// Usage: NtpClient [host[:port]] [--dns address:port] [--timeout milliseconds] [--attempts n]
try
{
    string server = "pool.ntp.org";
    DnsResolverOptions dns = DnsResolverOptions.FromResolvConf();
    TimeSpan timeout = TimeSpan.FromSeconds(2);
    int attempts = 3;
    for (int i = 0; i < args.Length; i++)
    {
        string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"Option {args[i]} needs a value.");
        switch (args[i])
        {
            case "--dns":
                dns.Servers.Clear();
                dns.Servers.Add(IPEndPoint.TryParse(Value(), out IPEndPoint? address) && address.Port != 0
                    ? address
                    : throw new ArgumentException($"--dns takes address:port, not '{args[i]}'."));
                break;
            case "--timeout":
                timeout = TimeSpan.FromMilliseconds(PositiveNumber("--timeout", Value()));
                break;
            case "--attempts":
                attempts = PositiveNumber("--attempts", Value());
                break;
            default:
                server = args[i].StartsWith("--", StringComparison.Ordinal) ? throw new ArgumentException($"Unknown option {args[i]}.") : args[i];
                break;
        }
    }

    (string host, int port) = SplitHostAndPort(server);
    IReadOnlyList<IPAddress> addresses;
    using (DnsResolver resolver = new(dns))
    {
        addresses = await resolver.GetHostAddressesAsync(host);
    }
    IPEndPoint endPoint = new(addresses[0], port);
    SntpResult result = await SntpClient.QueryAsync(endPoint, timeout, attempts);
    Console.WriteLine(string.Create(
        CultureInfo.InvariantCulture,
        $"server {endPoint} ({host}) stratum {result.Stratum} offset {result.Offset.TotalSeconds:+0.000000;-0.000000} s delay {result.RoundTripDelay.TotalSeconds:0.000000} s"));
    return 0;
}
catch (Exception ex) when (ex is ArgumentException or System.Net.Sockets.SocketException or TimeoutException or InvalidOperationException)
{
    Console.Error.WriteLine($"ntp: {ex.Message}");
    return 1;
}

static int PositiveNumber(string option, string text)
    => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value > 0
        ? value
        : throw new ArgumentException($"{option} must be a positive number, not '{text}'.");

static (string Host, int Port) SplitHostAndPort(string text)
{
    const int NtpPort = 123;
    if (IPEndPoint.TryParse(text, out IPEndPoint? literal))
    {
        return (literal.Address.ToString(), literal.Port == 0 ? NtpPort : literal.Port);
    }
    int colon = text.LastIndexOf(':');
    if (colon > 0 && text.IndexOf(':') == colon)
    {
        return int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port is > 0 and <= 65535
            ? (text[..colon], port)
            : throw new ArgumentException($"'{text}' is not host:port.");
    }
    return (text, NtpPort);
}
