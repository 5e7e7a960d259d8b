using System.Net;
using System.Net.Sockets;
using MNet.Transport.Native;

namespace MNet.Transport.Udp;

public sealed partial class UdpChannel
{
    private bool IsIPv6 => LocalEndPoint.AddressFamily == AddressFamily.InterNetworkV6;

    /// <summary>Whether datagrams may be sent to a broadcast address such as 127.255.255.255 (SO_BROADCAST).</summary>
    public bool EnableBroadcast
    {
        get => GetOption(Libc.SOL_SOCKET, Libc.SO_BROADCAST) != 0;
        set => SetOption(Libc.SOL_SOCKET, Libc.SO_BROADCAST, value ? 1 : 0);
    }

    /// <summary>The time to live (IPv4) or hop limit (IPv6) of unicast datagrams sent, 1 to 255.</summary>
    public short Ttl
    {
        get => (short)GetIPOption(Libc.IP_TTL, Libc.IPV6_UNICAST_HOPS);
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, (short)1);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, (short)255);
            SetIPOption(Libc.IP_TTL, Libc.IPV6_UNICAST_HOPS, value);
        }
    }

    /// <summary>The time to live (hop limit) of multicast datagrams sent, 0 to 255; the system default is 1.</summary>
    public short MulticastTtl
    {
        get => (short)GetIPOption(Libc.IP_MULTICAST_TTL, Libc.IPV6_MULTICAST_HOPS);
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, (short)255);
            SetIPOption(Libc.IP_MULTICAST_TTL, Libc.IPV6_MULTICAST_HOPS, value);
        }
    }

    /// <summary>Whether multicast datagrams this channel sends are also delivered to group members on this host (default true).</summary>
    public bool MulticastLoopback
    {
        get => GetIPOption(Libc.IP_MULTICAST_LOOP, Libc.IPV6_MULTICAST_LOOP) != 0;
        set => SetIPOption(Libc.IP_MULTICAST_LOOP, Libc.IPV6_MULTICAST_LOOP, value ? 1 : 0);
    }

    /// <summary>Sends IPv4 multicast through the interface that owns <paramref name="localAddress"/> (IP_MULTICAST_IF).</summary>
    public unsafe void SetMulticastInterface(IPAddress localAddress)
    {
        ArgumentNullException.ThrowIfNull(localAddress);
        RequireIPv4(localAddress, nameof(localAddress));
        uint address = AddressBytes(localAddress);
        SetOption(Libc.IPPROTO_IP, Libc.IP_MULTICAST_IF, &address, sizeof(uint));
    }

    /// <summary>Receives datagrams sent to <paramref name="group"/>, on the interface that owns <paramref name="localAddress"/> (any when null).</summary>
    public void JoinMulticastGroup(IPAddress group, IPAddress? localAddress = null)
        => ChangeMembership(group, localAddress, join: true);

    /// <summary>Stops receiving datagrams sent to <paramref name="group"/> on that interface.</summary>
    public void LeaveMulticastGroup(IPAddress group, IPAddress? localAddress = null)
        => ChangeMembership(group, localAddress, join: false);

    /// <summary>Receives datagrams sent to the IPv6 <paramref name="group"/> on the interface with index <paramref name="interfaceIndex"/> (0: the default).</summary>
    public void JoinMulticastGroup(IPAddress group, int interfaceIndex)
        => ChangeMembership(group, interfaceIndex, join: true);

    /// <summary>Stops receiving datagrams sent to the IPv6 <paramref name="group"/> on that interface.</summary>
    public void LeaveMulticastGroup(IPAddress group, int interfaceIndex)
        => ChangeMembership(group, interfaceIndex, join: false);

    private unsafe void ChangeMembership(IPAddress group, IPAddress? localAddress, bool join)
    {
        ArgumentNullException.ThrowIfNull(group);
        if (group.AddressFamily == AddressFamily.InterNetworkV6)
        {
            ChangeMembership(group, 0, join);
            return;
        }

        RequireMulticast(group);
        if (localAddress is not null)
        {
            RequireIPv4(localAddress, nameof(localAddress));
        }
        // struct ip_mreq { in_addr imr_multiaddr; in_addr imr_interface; }
        uint* request = stackalloc uint[2];
        request[0] = AddressBytes(group);
        request[1] = localAddress is null ? 0 : AddressBytes(localAddress);
        SetOption(Libc.IPPROTO_IP, join ? Libc.IP_ADD_MEMBERSHIP : Libc.IP_DROP_MEMBERSHIP, request, 2 * sizeof(uint));
    }

    private unsafe void ChangeMembership(IPAddress group, int interfaceIndex, bool join)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentOutOfRangeException.ThrowIfNegative(interfaceIndex);
        if (group.AddressFamily != AddressFamily.InterNetworkV6 || !IsIPv6)
        {
            throw new ArgumentException("An interface index selects an IPv6 group on an IPv6 channel; give IPv4 groups a local address.", nameof(group));
        }
        RequireMulticast(group);
        // struct ipv6_mreq { in6_addr ipv6mr_multiaddr; unsigned int ipv6mr_interface; }
        byte* request = stackalloc byte[20];
        group.TryWriteBytes(new Span<byte>(request, 16), out _);
        *(uint*)(request + 16) = (uint)interfaceIndex;
        SetOption(Libc.IPPROTO_IPV6, join ? Libc.IPV6_ADD_MEMBERSHIP : Libc.IPV6_DROP_MEMBERSHIP, request, 20);
    }

    private static void RequireMulticast(IPAddress group)
    {
        bool isMulticast = group.AddressFamily == AddressFamily.InterNetworkV6
            ? group.IsIPv6Multicast
            : (AddressBytes(group) & 0xF0) == 0xE0; // 224.0.0.0/4, first byte in network order
        if (!isMulticast)
        {
            throw new ArgumentException($"{group} is not a multicast address.", nameof(group));
        }
    }

    private void RequireIPv4(IPAddress address, string parameterName)
    {
        if (address.AddressFamily != AddressFamily.InterNetwork || IsIPv6)
        {
            throw new ArgumentException($"This option takes an IPv4 address on an IPv4 channel; got {address} on a channel bound to {LocalEndPoint}.", parameterName);
        }
    }

    /// <summary>An IPv4 address as the in_addr the kernel reads (network byte order in memory).</summary>
    private static unsafe uint AddressBytes(IPAddress address)
    {
        uint value = 0;
        address.TryWriteBytes(new Span<byte>(&value, sizeof(uint)), out _);
        return value;
    }

    /// <summary>Reads the IPv4 option <paramref name="ipv4Name"/>, or its IPv6 twin on an IPv6 channel.</summary>
    private int GetIPOption(int ipv4Name, int ipv6Name)
        => IsIPv6 ? GetOption(Libc.IPPROTO_IPV6, ipv6Name) : GetOption(Libc.IPPROTO_IP, ipv4Name);

    /// <summary>Sets the IPv4 option <paramref name="ipv4Name"/>, or its IPv6 twin on an IPv6 channel.</summary>
    private void SetIPOption(int ipv4Name, int ipv6Name, int value)
    {
        if (IsIPv6)
        {
            SetOption(Libc.IPPROTO_IPV6, ipv6Name, value);
        }
        else
        {
            SetOption(Libc.IPPROTO_IP, ipv4Name, value);
        }
    }

    private int GetOption(int level, int name)
    {
        lock (_lock)
        {
            ThrowIfDisposed();
            return Libc.GetIntOption(_fd, level, name);
        }
    }

    private unsafe void SetOption(int level, int name, int value) => SetOption(level, name, &value, sizeof(int));

    private unsafe void SetOption(int level, int name, void* value, int length)
    {
        lock (_lock)
        {
            ThrowIfDisposed();
            if (Libc.SetSockOpt(_fd, level, name, value, length) != 0)
            {
                throw Errno.ToSocketException(Errno.Last, $"setsockopt({level}, {name})");
            }
        }
    }
}
