using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace EchoServer;

/// <summary>A listening TCP socket whose descriptor survives exec, for children started with --handle.</summary>
internal static partial class InheritableListenSocket
{
    /// <summary>Binds and listens on <paramref name="endPoint"/>; returns a descriptor without close-on-exec and the bound address.</summary>
    public static (int Fd, EndPoint Bound) Open(IPEndPoint endPoint)
    {
        using Socket socket = new(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(endPoint);
        socket.Listen(512);
        // .NET opens sockets close-on-exec; a duplicate descriptor of the same socket does not inherit that flag.
        int fd = Dup((int)socket.Handle);
        return fd >= 0 ? (fd, socket.LocalEndPoint!) : throw new SocketException(Marshal.GetLastPInvokeError());
    }

    [LibraryImport("libc", EntryPoint = "dup", SetLastError = true)]
    private static partial int Dup(int fd);
}
