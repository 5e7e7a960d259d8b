using System.Globalization;
using System.Net;

namespace Samples;

/// <summary>
/// Parsing of the samples' command-line values (endpoints and counts). Every malformed value becomes an
/// <see cref="ArgumentException"/> that quotes it and names the option, which the samples print before their usage.
/// Linked into each sample, and into the tests that fuzz it.
/// </summary>
internal static class ArgumentText
{
    /// <summary>Parses "address:port" (IPv6 as "[::1]:7000"), naming <paramref name="what"/> in the error.</summary>
    /// <param name="allowPortZero">Whether port 0 (the system picks one) is valid, as it is for a server.</param>
    public static IPEndPoint ParseIPEndPoint(string text, string what, bool allowPortZero = false)
        => IPEndPoint.TryParse(text, out IPEndPoint? endPoint) && (endPoint.Port != 0 || allowPortZero)
            ? endPoint
            : throw new ArgumentException($"The {what} '{text}' is not an address:port such as 127.0.0.1:7000.");

    /// <summary>Parses a decimal count from 1 to <paramref name="max"/>; signs, spaces and other digits are refused.</summary>
    public static long ParsePositive(string text, string what, long max)
        => long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value) && value > 0 && value <= max
            ? value
            : throw new ArgumentException($"{what} must be a number from 1 to {max.ToString(CultureInfo.InvariantCulture)}, not '{text}'.");

    /// <summary>Parses one of <typeparamref name="TEnum"/>'s names, in any case; numbers are refused.</summary>
    public static TEnum ParseEnum<TEnum>(string text, string what)
        where TEnum : struct, Enum
        => !text.Any(char.IsDigit) && Enum.TryParse(text, ignoreCase: true, out TEnum value) && Enum.IsDefined(value)
            ? value
            : throw new ArgumentException($"{what} must be one of {string.Join(", ", Enum.GetNames<TEnum>()).ToLowerInvariant()}, not '{text}'.");

    /// <summary>
    /// Splits "host", "host:port", "address:port" or "[v6]:port"; a bare IPv6 address is a host without a port.
    /// The host is not resolved here, only checked to be non-empty.
    /// </summary>
    public static (string Host, int Port) ParseHostAndPort(string text, int defaultPort)
    {
        if (IPEndPoint.TryParse(text, out IPEndPoint? literal))
        {
            return (literal.Address.ToString(), literal.Port == 0 ? defaultPort : literal.Port);
        }
        int colon = text.LastIndexOf(':');
        if (colon < 0)
        {
            return text.Length > 0 ? (text, defaultPort) : throw new ArgumentException("The server name is empty.");
        }
        return colon > 0 && text.IndexOf(':') == colon
            && int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port is > 0 and <= IPEndPoint.MaxPort
            ? (text[..colon], port)
            : throw new ArgumentException($"'{text}' is not host:port.");
    }
}
