using System.Net;
using System.Net.Sockets;

namespace Samples;

/// <summary>A sample's command line: an optional endpoint and --name value options. Linked into the samples that take one, and into the tests that fuzz it.</summary>
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

    /// <summary>The count given as --<paramref name="name"/>, from 1 to <paramref name="max"/>, or <paramref name="defaultValue"/>.</summary>
    public long Number(string name, long defaultValue, long max)
        => Option(name) is { } text ? ArgumentText.ParsePositive(text, "--" + name, max) : defaultValue;

    /// <summary>The endpoint to connect to: the positional "host:port", or --unix PATH.</summary>
    public EndPoint RemoteEndPoint()
        => Option("unix") is { } path ? new UnixDomainSocketEndPoint(path)
            : Target is { } target ? ArgumentText.ParseIPEndPoint(target, "endpoint")
            : throw new ArgumentException("Give an endpoint (127.0.0.1:7000) or --unix PATH.");
}
