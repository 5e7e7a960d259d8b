using System.Net;
using MNet.Transport.Native;

namespace MNet.Transport.Tcp;

/// <summary>The first half of a client connect on the native backends: the socket, and connect(2) without waiting.</summary>
internal static class NonblockingConnect
{
    /// <summary>Opens a nonblocking socket and starts connecting; returns the descriptor and connect's errno (0: connected).</summary>
    public static unsafe (int Fd, int Errno) Start(EndPoint remote, bool noDelay)
    {
        int fd = Libc.Socket(SockAddr.FamilyOf(remote), Libc.SOCK_STREAM | Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw Errno.ToException(Errno.Last, $"socket for {remote}");
        }

        try
        {
            if (noDelay && remote is IPEndPoint)
            {
                Libc.SetIntOption(fd, Libc.IPPROTO_TCP, Libc.TCP_NODELAY, 1);
            }

            Span<byte> address = stackalloc byte[SockAddr.MaxSize];
            int length = SockAddr.Write(remote, address);
            fixed (byte* pointer = address)
            {
                return Libc.Connect(fd, pointer, length) == 0 ? (fd, 0) : (fd, Errno.Last);
            }
        }
        catch
        {
            Libc.Close(fd);
            throw;
        }
    }
}
