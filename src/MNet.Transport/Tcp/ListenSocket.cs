using System.Net;
using System.Net.Sockets;
using MNet.Transport.Native;
using Microsoft.AspNetCore.Connections;

namespace MNet.Transport.Tcp;

/// <summary>Creates bound, listening, nonblocking stream sockets.</summary>
internal static class ListenSocket
{
    /// <summary>
    /// Opens a socket listening on <paramref name="endPoint"/>; throws <see cref="Microsoft.AspNetCore.Connections.AddressInUseException"/>
    /// when taken. With <paramref name="noDelay"/> a TCP listener gets TCP_NODELAY, which Linux copies to every socket
    /// it accepts.
    /// </summary>
    public static unsafe int Open(EndPoint endPoint, int backlog, bool reusePort, bool noDelay)
    {
        int fd = Libc.Socket(SockAddr.FamilyOf(endPoint), Libc.SOCK_STREAM | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw Errno.ToException(Errno.Last, "socket");
        }

        try
        {
            if (endPoint is IPEndPoint ip)
            {
                Libc.SetIntOption(fd, Libc.SOL_SOCKET, Libc.SO_REUSEADDR, 1);
                if (noDelay)
                {
                    Libc.SetIntOption(fd, Libc.IPPROTO_TCP, Libc.TCP_NODELAY, 1);
                }
                if (reusePort)
                {
                    Libc.SetIntOption(fd, Libc.SOL_SOCKET, Libc.SO_REUSEPORT, 1);
                }
                if (ip.AddressFamily == AddressFamily.InterNetworkV6)
                {
                    // Only the IPv6 wildcard is dual-stack, as with Kestrel's Sockets transport.
                    int v6Only = ip.Address.Equals(IPAddress.IPv6Any) ? 0 : 1;
                    Libc.SetIntOption(fd, Libc.IPPROTO_IPV6, Libc.IPV6_V6ONLY, v6Only);
                }
            }

            Span<byte> address = stackalloc byte[SockAddr.MaxSize];
            int length = SockAddr.Write(endPoint, address);
            fixed (byte* pointer = address)
            {
                if (Libc.Bind(fd, pointer, length) != 0)
                {
                    throw Errno.ToException(Errno.Last, endPoint.ToString());
                }
            }

            if (Libc.Listen(fd, backlog) != 0)
            {
                throw Errno.ToException(Errno.Last, endPoint.ToString());
            }
            return fd;
        }
        catch
        {
            Libc.Close(fd);
            throw;
        }
    }

    /// <summary>
    /// Takes ownership of an inherited descriptor after checking that it is a listening stream socket, and makes it
    /// nonblocking.
    /// </summary>
    public static (int Fd, AddressFamily Family) Adopt(FileHandleEndPoint endPoint)
    {
        if (endPoint.FileHandleType is not (FileHandleType.Auto or FileHandleType.Tcp))
        {
            throw new NotSupportedException($"Handle {endPoint.FileHandle} is a {endPoint.FileHandleType}; only sockets can be served.");
        }
        if (endPoint.FileHandle > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(endPoint), endPoint.FileHandle, "The handle is not a file descriptor.");
        }

        int fd = (int)endPoint.FileHandle;
        bool listening;
        try
        {
            listening = Libc.GetIntOption(fd, Libc.SOL_SOCKET, Libc.SO_TYPE) == Libc.SOCK_STREAM
                && Libc.GetIntOption(fd, Libc.SOL_SOCKET, Libc.SO_ACCEPTCONN) != 0;
        }
        catch (SocketException ex)
        {
            throw new ArgumentException($"Handle {fd} is not a listening stream socket: {ex.Message}", nameof(endPoint), ex);
        }
        if (!listening)
        {
            throw new ArgumentException($"Handle {fd} is not a listening stream socket.", nameof(endPoint));
        }

        using Socket socket = new(new SafeSocketHandle(fd, ownsHandle: false));
        socket.Blocking = false;
        return (fd, socket.AddressFamily);
    }
}
