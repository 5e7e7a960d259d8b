using System.Globalization;
using System.Net;
using MNet.Transport.Dns;
using NtpClient;
using Samples;

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
                dns.Servers.Add(ArgumentText.ParseIPEndPoint(Value(), "--dns server"));
                break;
            case "--timeout":
                timeout = TimeSpan.FromMilliseconds(ArgumentText.ParsePositive(Value(), "--timeout", max: 60_000));
                break;
            case "--attempts":
                attempts = (int)ArgumentText.ParsePositive(Value(), "--attempts", max: 100);
                break;
            default:
                server = args[i].StartsWith("--", StringComparison.Ordinal) ? throw new ArgumentException($"Unknown option {args[i]}.") : args[i];
                break;
        }
    }

    (string host, int port) = ArgumentText.ParseHostAndPort(server, defaultPort: 123);
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
