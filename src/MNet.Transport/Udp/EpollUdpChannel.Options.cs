using System.Net;
using MNet.Transport.Native;

namespace MNet.Transport.Udp;

internal sealed partial class EpollUdpChannel
{
    private protected override int GetOption(UdpSocketOption option)
    {
        (int level, int name) = Native(option);
        lock (_lock)
        {
            ThrowIfDisposed();
            return Libc.GetIntOption(_fd, level, name);
        }
    }

    private protected override unsafe void SetOption(UdpSocketOption option, int value)
    {
        (int level, int name) = Native(option);
        SetOption(level, name, &value, sizeof(int));
    }

    private protected override unsafe void SetMulticastInterfaceCore(IPAddress localAddress)
    {
        uint address = AddressBytes(localAddress);
        SetOption(Libc.IPPROTO_IP, Libc.IP_MULTICAST_IF, &address, sizeof(uint));
    }

    private protected override unsafe void ChangeMembershipCore(IPAddress group, IPAddress? localAddress, bool join)
    {
        // struct ip_mreq { in_addr imr_multiaddr; in_addr imr_interface; }
        uint* request = stackalloc uint[2];
        request[0] = AddressBytes(group);
        request[1] = localAddress is null ? 0 : AddressBytes(localAddress);
        SetOption(Libc.IPPROTO_IP, join ? Libc.IP_ADD_MEMBERSHIP : Libc.IP_DROP_MEMBERSHIP, request, 2 * sizeof(uint));
    }

    private protected override unsafe void ChangeMembershipCore(IPAddress group, int interfaceIndex, bool join)
    {
        // struct ipv6_mreq { in6_addr ipv6mr_multiaddr; unsigned int ipv6mr_interface; }
        byte* request = stackalloc byte[20];
        group.TryWriteBytes(new Span<byte>(request, 16), out _);
        *(uint*)(request + 16) = (uint)interfaceIndex;
        SetOption(Libc.IPPROTO_IPV6, join ? Libc.IPV6_ADD_MEMBERSHIP : Libc.IPV6_DROP_MEMBERSHIP, request, 20);
    }

    /// <summary>The level and name of <paramref name="option"/> for this channel's family.</summary>
    private (int Level, int Name) Native(UdpSocketOption option) => option switch
    {
        UdpSocketOption.Broadcast => (Libc.SOL_SOCKET, Libc.SO_BROADCAST),
        UdpSocketOption.TimeToLive => IsIPv6 ? (Libc.IPPROTO_IPV6, Libc.IPV6_UNICAST_HOPS) : (Libc.IPPROTO_IP, Libc.IP_TTL),
        UdpSocketOption.MulticastTimeToLive => IsIPv6 ? (Libc.IPPROTO_IPV6, Libc.IPV6_MULTICAST_HOPS) : (Libc.IPPROTO_IP, Libc.IP_MULTICAST_TTL),
        UdpSocketOption.MulticastLoopback => IsIPv6 ? (Libc.IPPROTO_IPV6, Libc.IPV6_MULTICAST_LOOP) : (Libc.IPPROTO_IP, Libc.IP_MULTICAST_LOOP),
        _ => throw new ArgumentOutOfRangeException(nameof(option), option, null),
    };

    /// <summary>Sets an int-valued option the public surface does not name (for tests).</summary>
    internal unsafe void SetIntOption(int level, int name, int value) => SetOption(level, name, &value, sizeof(int));

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
