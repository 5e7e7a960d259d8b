using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;

namespace MNet.Transport.Native;

/// <summary>Linux errno values the transport handles, and their mapping to .NET exceptions.</summary>
internal static class Errno
{
    public const int EPERM = 1;
    public const int EINTR = 4;
    public const int EIO = 5;
    public const int EBADF = 9;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EACCES = 13;
    public const int EFAULT = 14;
    public const int EBUSY = 16;
    public const int EINVAL = 22;
    public const int ENFILE = 23;
    public const int EMFILE = 24;
    public const int EPIPE = 32;
    public const int ETIME = 62;
    public const int ENOTSOCK = 88;
    public const int EDESTADDRREQ = 89;
    public const int EMSGSIZE = 90;
    public const int EPROTONOSUPPORT = 93;
    public const int EOPNOTSUPP = 95;
    public const int EAFNOSUPPORT = 97;
    public const int EADDRINUSE = 98;
    public const int EADDRNOTAVAIL = 99;
    public const int ENETDOWN = 100;
    public const int ENETUNREACH = 101;
    public const int ECONNABORTED = 103;
    public const int ECONNRESET = 104;
    public const int ENOBUFS = 105;
    public const int EISCONN = 106;
    public const int ENOTCONN = 107;
    public const int ETIMEDOUT = 110;
    public const int ECONNREFUSED = 111;
    public const int EHOSTDOWN = 112;
    public const int EHOSTUNREACH = 113;
    public const int EALREADY = 114;
    public const int EINPROGRESS = 115;
    public const int ECANCELED = 125;
    public const int ENOENT = 2;

    /// <summary>The errno of the last failed libc call on this thread.</summary>
    public static int Last => Marshal.GetLastPInvokeError();

    public static SocketError ToSocketError(int errno) => errno switch
    {
        EINTR => SocketError.Interrupted,
        EAGAIN => SocketError.WouldBlock,
        EACCES or EPERM => SocketError.AccessDenied,
        EFAULT => SocketError.Fault,
        EINVAL => SocketError.InvalidArgument,
        ENFILE or EMFILE => SocketError.TooManyOpenSockets,
        EPIPE => SocketError.Shutdown,
        ENOTSOCK or EBADF => SocketError.NotSocket,
        EDESTADDRREQ => SocketError.DestinationAddressRequired,
        EMSGSIZE => SocketError.MessageSize,
        EPROTONOSUPPORT => SocketError.ProtocolNotSupported,
        EOPNOTSUPP => SocketError.OperationNotSupported,
        EAFNOSUPPORT => SocketError.AddressFamilyNotSupported,
        EADDRINUSE => SocketError.AddressAlreadyInUse,
        EADDRNOTAVAIL => SocketError.AddressNotAvailable,
        ENETDOWN => SocketError.NetworkDown,
        ENETUNREACH => SocketError.NetworkUnreachable,
        ECONNABORTED => SocketError.ConnectionAborted,
        ECONNRESET => SocketError.ConnectionReset,
        ENOBUFS or ENOMEM => SocketError.NoBufferSpaceAvailable,
        EISCONN => SocketError.IsConnected,
        ENOTCONN => SocketError.NotConnected,
        ETIMEDOUT => SocketError.TimedOut,
        ECONNREFUSED => SocketError.ConnectionRefused,
        EHOSTDOWN => SocketError.HostDown,
        EHOSTUNREACH => SocketError.HostUnreachable,
        EALREADY => SocketError.AlreadyInProgress,
        EINPROGRESS => SocketError.InProgress,
        ENOENT => SocketError.AddressNotAvailable,
        _ => SocketError.SocketError,
    };

    /// <summary>A <see cref="SocketException"/> carrying both the mapped error and the OS text for <paramref name="errno"/>.</summary>
    public static SocketException ToSocketException(int errno, string? context = null)
    {
        string message = Marshal.GetPInvokeErrorMessage(errno);
        return new SocketException((int)ToSocketError(errno), context is null ? message : $"{message} ({context})");
    }

    /// <summary>
    /// The exception the transport surfaces for a failed socket call: <see cref="AddressInUseException"/> for
    /// EADDRINUSE (Kestrel relies on it), <see cref="ConnectionResetException"/> for ECONNRESET/EPIPE,
    /// <see cref="SocketException"/> otherwise.
    /// </summary>
    public static Exception ToException(int errno, string? context = null)
    {
        SocketException inner = ToSocketException(errno, context);
        return errno switch
        {
            EADDRINUSE => new AddressInUseException(inner.Message, inner),
            ECONNRESET or EPIPE => new ConnectionResetException(inner.Message, inner),
            _ => inner,
        };
    }
}
