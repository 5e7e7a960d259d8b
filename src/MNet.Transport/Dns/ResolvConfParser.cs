using System.Globalization;
using System.Net;

namespace MNet.Transport.Dns;

/// <summary>resolv.conf(5) as the C library reads it, including its limits; what it cannot read it skips.</summary>
internal static class ResolvConfParser
{
    public const int MaxNdots = 15;
    private const int MaxServers = 3;
    private const int MaxTimeoutSeconds = 30;
    private const int MaxAttempts = 5;
    private const int DnsPort = 53;

    public static void Parse(string text, DnsResolverOptions options)
    {
        foreach (string[] words in ConfigurationFileLines.ReadWords(text, "#;"))
        {
            if (words.Length < 2)
            {
                continue;
            }

            switch (words[0])
            {
                case "nameserver":
                    if (options.Servers.Count < MaxServers && IPAddress.TryParse(words[1], out IPAddress? address))
                    {
                        options.Servers.Add(new IPEndPoint(address, DnsPort));
                    }
                    break;
                case "domain":
                case "search": // the last of the two wins
                    options.SearchDomains.Clear();
                    foreach (string domain in words.AsSpan(1))
                    {
                        if (DnsQueryWriter.FindHostNameError(domain) is null)
                        {
                            options.SearchDomains.Add(domain);
                        }
                    }
                    break;
                case "options":
                    foreach (string option in words.AsSpan(1))
                    {
                        ParseOption(option, options);
                    }
                    break;
            }
        }
    }

    private static void ParseOption(string option, DnsResolverOptions options)
    {
        if (option == "rotate")
        {
            options.Rotate = true;
        }
        else if (TryReadValue(option, "ndots:", out int ndots))
        {
            options.Ndots = Math.Min(ndots, MaxNdots);
        }
        else if (TryReadValue(option, "timeout:", out int timeout) && timeout > 0)
        {
            options.Timeout = TimeSpan.FromSeconds(Math.Min(timeout, MaxTimeoutSeconds));
        }
        else if (TryReadValue(option, "attempts:", out int attempts) && attempts > 0)
        {
            options.Attempts = Math.Min(attempts, MaxAttempts);
        }
    }

    private static bool TryReadValue(string option, string prefix, out int value)
    {
        value = 0;
        return option.StartsWith(prefix, StringComparison.Ordinal)
            && int.TryParse(option.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }
}
