using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;

namespace MNet.Transport.Tcp;

/// <summary>The endpoints the stream listeners of every backend serve, and how logs name them.</summary>
internal static class ListenEndPoints
{
    /// <summary>
    /// Whether a listener can bind <paramref name="endPoint"/>: an IPv4 or IPv6 <see cref="IPEndPoint"/>, a
    /// <see cref="UnixDomainSocketEndPoint"/>, or a <see cref="FileHandleEndPoint"/> of an inherited socket.
    /// </summary>
    public static bool CanBind(EndPoint endPoint) => endPoint switch
    {
        IPEndPoint ip => ip.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6,
        UnixDomainSocketEndPoint => true,
        FileHandleEndPoint handle => handle.FileHandleType is FileHandleType.Auto or FileHandleType.Tcp,
        _ => false,
    };

    public static void ThrowIfCannotBind(EndPoint endPoint)
    {
        if (!CanBind(endPoint))
        {
            throw new NotSupportedException($"The MNet transport cannot bind {endPoint.GetType().Name} '{endPoint}'.");
        }
    }

    /// <summary>The text logs use for a bound endpoint (a <see cref="FileHandleEndPoint"/> has none of its own).</summary>
    public static string DisplayName(EndPoint endPoint)
        => endPoint is FileHandleEndPoint handle ? $"inherited socket {handle.FileHandle}" : endPoint.ToString()!;

    /// <summary>Removes the file a Unix socket listener bound (abstract names have none).</summary>
    public static void DeleteUnixSocketFile(EndPoint endPoint)
    {
        if (endPoint is UnixDomainSocketEndPoint unix && unix.ToString() is { Length: > 0 } path && path[0] is not ('\0' or '@'))
        {
            File.Delete(path);
        }
    }
}
