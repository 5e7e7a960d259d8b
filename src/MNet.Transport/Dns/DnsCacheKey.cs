using System.Net.Sockets;

namespace MNet.Transport.Dns;

/// <summary>A name as the caller spelled it (compared without regard to ASCII case, as DNS does) and the family asked.</summary>
internal readonly struct DnsCacheKey(string name, AddressFamily family) : IEquatable<DnsCacheKey>
{
    public string Name { get; } = name;

    public AddressFamily Family { get; } = family;

    public bool Equals(DnsCacheKey other) => Family == other.Family && string.Equals(Name, other.Name, StringComparison.OrdinalIgnoreCase);

    public override bool Equals(object? obj) => obj is DnsCacheKey other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(StringComparer.OrdinalIgnoreCase.GetHashCode(Name), Family);
}
