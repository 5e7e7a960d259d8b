using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace MNet.Transport.Native;

/// <summary>Converts between <see cref="EndPoint"/> and the native sockaddr bytes libc takes.</summary>
internal static class SockAddr
{
    /// <summary>Large enough for sockaddr_in, sockaddr_in6 and sockaddr_un.</summary>
    public const int MaxSize = 128;

    /// <summary>Writes <paramref name="endPoint"/> as a native sockaddr and returns its length.</summary>
    public static int Write(EndPoint endPoint, Span<byte> destination)
    {
        // On Unix, SocketAddress holds the native sockaddr layout; endpoints are serialized once per bind/connect.
        SocketAddress address = endPoint.Serialize();
        address.Buffer.Span[..address.Size].CopyTo(destination);
        return address.Size;
    }

    /// <summary>Size of sockaddr_in6, the largest IP sockaddr.</summary>
    public const int MaxIPSize = 28;

    /// <summary>Writes an IP endpoint as sockaddr_in or sockaddr_in6 without allocating; returns its length.</summary>
    public static int WriteIP(IPEndPoint endPoint, Span<byte> destination)
    {
        destination[..MaxIPSize].Clear();
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)endPoint.Port);
        if (endPoint.AddressFamily == AddressFamily.InterNetwork)
        {
            BitConverter.TryWriteBytes(destination, (ushort)Libc.AF_INET);
            endPoint.Address.TryWriteBytes(destination.Slice(4, 4), out _);
            return 16;
        }

        BitConverter.TryWriteBytes(destination, (ushort)Libc.AF_INET6);
        endPoint.Address.TryWriteBytes(destination.Slice(8, 16), out _);
        BitConverter.TryWriteBytes(destination[24..], (uint)endPoint.Address.ScopeId);
        return MaxIPSize;
    }

    /// <summary>
    /// Rewrites a sockaddr_in in place as the IPv4-mapped sockaddr_in6 a dual-stack socket takes (other families
    /// are left alone); <paramref name="address"/> has room for <see cref="MaxIPSize"/> bytes. Returns the length.
    /// </summary>
    public static int MapIPv4ToIPv6(Span<byte> address, int length)
    {
        if (length != 16 || BitConverter.ToUInt16(address) != Libc.AF_INET)
        {
            return length;
        }
        uint ip = BitConverter.ToUInt32(address[4..]); // network order, copied as is
        address[4..MaxIPSize].Clear();
        BitConverter.TryWriteBytes(address, (ushort)Libc.AF_INET6);
        address[18] = 0xFF;
        address[19] = 0xFF;
        BitConverter.TryWriteBytes(address[20..], ip);
        return MaxIPSize;
    }

    /// <summary>The address family constant (AF_*) for <paramref name="endPoint"/>.</summary>
    public static int FamilyOf(EndPoint endPoint) => endPoint.AddressFamily switch
    {
        AddressFamily.InterNetwork => Libc.AF_INET,
        AddressFamily.InterNetworkV6 => Libc.AF_INET6,
        AddressFamily.Unix => Libc.AF_UNIX,
        _ => throw new ArgumentException($"Address family {endPoint.AddressFamily} is not supported.", nameof(endPoint)),
    };

    /// <summary>Reads an IP sockaddr; returns null for other families (Unix peers are unnamed).</summary>
    public static IPEndPoint? ReadIP(ReadOnlySpan<byte> address)
    {
        if (address.Length < 2)
        {
            return null;
        }

        int family = BitConverter.ToUInt16(address);
        if (family == Libc.AF_INET && address.Length >= 16)
        {
            int port = BinaryPrimitives.ReadUInt16BigEndian(address[2..]);
            long ip = BitConverter.ToUInt32(address[4..]);
            return new IPEndPoint(new IPAddress(ip), port);
        }

        if (family == Libc.AF_INET6 && address.Length >= 28)
        {
            int port = BinaryPrimitives.ReadUInt16BigEndian(address[2..]);
            uint scope = BitConverter.ToUInt32(address[24..]);
            return new IPEndPoint(new IPAddress(address.Slice(8, 16), scope), port);
        }

        return null;
    }

    /// <summary>The local address a socket is bound to.</summary>
    public static EndPoint? GetSockName(int fd, AddressFamily family) => GetName(fd, family, peer: false);

    /// <summary>The address of a connected socket's peer (null for a Unix socket's).</summary>
    public static EndPoint? GetPeerName(int fd, AddressFamily family) => GetName(fd, family, peer: true);

    private static unsafe IPEndPoint? GetName(int fd, AddressFamily family, bool peer)
    {
        byte* buffer = stackalloc byte[MaxSize];
        int length = MaxSize;
        if ((peer ? Libc.GetPeerName(fd, buffer, &length) : Libc.GetSockName(fd, buffer, &length)) != 0)
        {
            throw Errno.ToException(Errno.Last);
        }
        return family == AddressFamily.Unix ? null : ReadIP(new ReadOnlySpan<byte>(buffer, length));
    }
}
