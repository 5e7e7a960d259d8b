using System.Net;
using System.Net.Sockets;

namespace EchoServer;

/// <summary>The sample's command line: an optional endpoint and --name value options.</summary>
internal sealed class SampleArguments
{
    private readonly Dictionary<string, string> _options;

    private SampleArguments(string? target, Dictionary<string, string> options)
    {
        Target = target;
        _options = options;
    }

    /// <summary>The positional endpoint, if any ("127.0.0.1:7000").</summary>
    public string? Target { get; }

    public static SampleArguments Parse(string[] args)
    {
        string? target = null;
        Dictionary<string, string> options = new(StringComparer.Ordinal);
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i].StartsWith("--", StringComparison.Ordinal))
            {
                if (i + 1 >= args.Length)
                {
                    throw new ArgumentException($"Option {args[i]} needs a value.");
                }
                options[args[i][2..]] = args[++i];
            }
            else if (target is null)
            {
                target = args[i];
            }
            else
            {
                throw new ArgumentException($"Unexpected argument '{args[i]}'.");
            }
        }
        return new SampleArguments(target, options);
    }

    public string? Option(string name) => _options.GetValueOrDefault(name);

    public long Number(string name, long defaultValue)
    {
        string? text = Option(name);
        if (text is null)
        {
            return defaultValue;
        }
        return long.TryParse(text, out long value) && value > 0
            ? value
            : throw new ArgumentException($"--{name} must be a positive number, not '{text}'.");
    }

    /// <summary>The endpoint to connect to: the positional "host:port", or --unix PATH.</summary>
    public EndPoint RemoteEndPoint()
        => Option("unix") is { } path ? new UnixDomainSocketEndPoint(path)
            : Target is { } target ? ParseIPEndPoint(target, "endpoint")
            : throw new ArgumentException("Give an endpoint (127.0.0.1:7000) or --unix PATH.");

    /// <summary>Parses "address:port" (IPv6 as "[::1]:7000"), naming <paramref name="what"/> in the error.</summary>
    /// <param name="allowPortZero">Whether port 0 (the system picks one) is valid, as it is for a server.</param>
    public static IPEndPoint ParseIPEndPoint(string text, string what, bool allowPortZero = false)
        => IPEndPoint.TryParse(text, out IPEndPoint? endPoint) && (endPoint.Port != 0 || allowPortZero)
            ? endPoint
            : throw new ArgumentException($"The {what} '{text}' is not an address:port such as 127.0.0.1:7000.");
}
