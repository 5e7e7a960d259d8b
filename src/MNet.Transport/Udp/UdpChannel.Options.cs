using System.Net;
using System.Net.Sockets;

namespace MNet.Transport.Udp;

public abstract partial class UdpChannel
{
    /// <summary>Whether datagrams may be sent to a broadcast address such as 127.255.255.255 (SO_BROADCAST).</summary>
    public bool EnableBroadcast
    {
        get => GetOption(UdpSocketOption.Broadcast) != 0;
        set => SetOption(UdpSocketOption.Broadcast, value ? 1 : 0);
    }

    /// <summary>The time to live (IPv4) or hop limit (IPv6) of unicast datagrams sent, 1 to 255.</summary>
    public short Ttl
    {
        get => (short)GetOption(UdpSocketOption.TimeToLive);
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, (short)1);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, (short)255);
            SetOption(UdpSocketOption.TimeToLive, value);
        }
    }

    /// <summary>The time to live (hop limit) of multicast datagrams sent, 0 to 255; the system default is 1.</summary>
    public short MulticastTtl
    {
        get => (short)GetOption(UdpSocketOption.MulticastTimeToLive);
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, (short)255);
            SetOption(UdpSocketOption.MulticastTimeToLive, value);
        }
    }

    /// <summary>Whether multicast datagrams this channel sends are also delivered to group members on this host (default true).</summary>
    public bool MulticastLoopback
    {
        get => GetOption(UdpSocketOption.MulticastLoopback) != 0;
        set => SetOption(UdpSocketOption.MulticastLoopback, value ? 1 : 0);
    }

    /// <summary>Sends IPv4 multicast through the interface that owns <paramref name="localAddress"/> (IP_MULTICAST_IF).</summary>
    public void SetMulticastInterface(IPAddress localAddress)
    {
        ArgumentNullException.ThrowIfNull(localAddress);
        RequireIPv4(localAddress, nameof(localAddress));
        SetMulticastInterfaceCore(localAddress);
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

    /// <summary>Reads an integer option, in its IPv4 or IPv6 form as the channel's family asks.</summary>
    /// <exception cref="ObjectDisposedException">The channel is disposed.</exception>
    private protected abstract int GetOption(UdpSocketOption option);

    /// <summary>Sets an integer option, in its IPv4 or IPv6 form as the channel's family asks.</summary>
    /// <exception cref="ObjectDisposedException">The channel is disposed.</exception>
    private protected abstract void SetOption(UdpSocketOption option, int value);

    private protected abstract void SetMulticastInterfaceCore(IPAddress localAddress);

    /// <summary>Joins or leaves a checked IPv4 <paramref name="group"/>.</summary>
    private protected abstract void ChangeMembershipCore(IPAddress group, IPAddress? localAddress, bool join);

    /// <summary>Joins or leaves a checked IPv6 <paramref name="group"/> on an IPv6 channel.</summary>
    private protected abstract void ChangeMembershipCore(IPAddress group, int interfaceIndex, bool join);

    /// <summary>An IPv4 address as the in_addr the kernel reads (network byte order in memory).</summary>
    private protected static unsafe uint AddressBytes(IPAddress address)
    {
        uint value = 0;
        address.TryWriteBytes(new Span<byte>(&value, sizeof(uint)), out _);
        return value;
    }

    private void ChangeMembership(IPAddress group, IPAddress? localAddress, bool join)
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
        ChangeMembershipCore(group, localAddress, join);
    }

    private void ChangeMembership(IPAddress group, int interfaceIndex, bool join)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentOutOfRangeException.ThrowIfNegative(interfaceIndex);
        if (group.AddressFamily != AddressFamily.InterNetworkV6 || !IsIPv6)
        {
            throw new ArgumentException("An interface index selects an IPv6 group on an IPv6 channel; give IPv4 groups a local address.", nameof(group));
        }
        RequireMulticast(group);
        ChangeMembershipCore(group, interfaceIndex, join);
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
}
