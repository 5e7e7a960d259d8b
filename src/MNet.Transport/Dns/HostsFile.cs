using System.Collections.ObjectModel;
using System.Net;
using System.Net.Sockets;

namespace MNet.Transport.Dns;

/// <summary>hosts(5): each line an address and its names; a name's addresses keep the file's order.</summary>
internal sealed class HostsFile
{
    private readonly Dictionary<string, Addresses> _names = new(StringComparer.OrdinalIgnoreCase);

    private HostsFile()
    {
    }

    public static HostsFile Empty { get; } = new();

    public static HostsFile Load(string? path) => path is not null && File.Exists(path) ? Parse(File.ReadAllText(path)) : Empty;

    /// <summary>Reads the text of a hosts file; a line whose first word is not an address is skipped.</summary>
    public static HostsFile Parse(string text)
    {
        Dictionary<string, List<IPAddress>> names = new(StringComparer.OrdinalIgnoreCase);
        foreach (string[] words in ConfigurationFileLines.ReadWords(text, "#"))
        {
            if (words.Length < 2 || !IPAddress.TryParse(words[0], out IPAddress? address))
            {
                continue;
            }
            foreach (string name in words.AsSpan(1))
            {
                if (!names.TryGetValue(name, out List<IPAddress>? addresses))
                {
                    names[name] = addresses = [];
                }
                if (!addresses.Contains(address))
                {
                    addresses.Add(address);
                }
            }
        }

        HostsFile file = new();
        foreach ((string name, List<IPAddress> addresses) in names)
        {
            file._names[name] = new Addresses(addresses);
        }
        return file;
    }

    /// <summary>The addresses of <paramref name="name"/> (a trailing dot ignored) of <paramref name="family"/>, or null.</summary>
    public IReadOnlyList<IPAddress>? Find(string name, AddressFamily family)
    {
        if (_names.Count == 0)
        {
            return null;
        }
        if (!_names.TryGetValue(name, out Addresses? addresses) && !(name.EndsWith('.') && _names.TryGetValue(name[..^1], out addresses)))
        {
            return null;
        }
        IReadOnlyList<IPAddress> found = family switch
        {
            AddressFamily.InterNetwork => addresses.IPv4,
            AddressFamily.InterNetworkV6 => addresses.IPv6,
            _ => addresses.All,
        };
        return found.Count > 0 ? found : null;
    }

    private sealed class Addresses(List<IPAddress> all)
    {
        public IReadOnlyList<IPAddress> All { get; } = all.AsReadOnly();

        public IReadOnlyList<IPAddress> IPv4 { get; } = new ReadOnlyCollection<IPAddress>(all.FindAll(a => a.AddressFamily == AddressFamily.InterNetwork));

        public IReadOnlyList<IPAddress> IPv6 { get; } = new ReadOnlyCollection<IPAddress>(all.FindAll(a => a.AddressFamily == AddressFamily.InterNetworkV6));
    }
}
