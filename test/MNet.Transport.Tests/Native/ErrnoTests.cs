using System.Net.Sockets;
using MNet.Transport.Native;
using Microsoft.AspNetCore.Connections;

namespace MNet.Transport.Tests.Native;

public sealed class ErrnoTests
{
    [Fact]
    public void AddressInUse_BecomesAddressInUseException_WithTheSocketErrorInside()
    {
        Exception ex = Errno.ToException(Errno.EADDRINUSE, "bind 127.0.0.1:80");

        AddressInUseException inUse = Assert.IsType<AddressInUseException>(ex);
        SocketException inner = Assert.IsType<SocketException>(inUse.InnerException);
        Assert.Equal(SocketError.AddressAlreadyInUse, inner.SocketErrorCode);
        Assert.Contains("bind 127.0.0.1:80", inUse.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(Errno.ECONNRESET, SocketError.ConnectionReset)]
    [InlineData(Errno.EPIPE, SocketError.Shutdown)]
    public void ResetAndBrokenPipe_BecomeConnectionResetException(int errno, SocketError expected)
    {
        ConnectionResetException reset = Assert.IsType<ConnectionResetException>(Errno.ToException(errno));
        Assert.Equal(expected, Assert.IsType<SocketException>(reset.InnerException).SocketErrorCode);
    }

    [Theory]
    [InlineData(Errno.ECONNREFUSED, SocketError.ConnectionRefused)]
    [InlineData(Errno.EMFILE, SocketError.TooManyOpenSockets)]
    [InlineData(Errno.EADDRNOTAVAIL, SocketError.AddressNotAvailable)]
    [InlineData(Errno.EACCES, SocketError.AccessDenied)]
    [InlineData(Errno.ETIMEDOUT, SocketError.TimedOut)]
    public void OtherErrors_BecomeSocketException_WithTheOsMessage(int errno, SocketError expected)
    {
        SocketException ex = Assert.IsType<SocketException>(Errno.ToException(errno, "connect"));

        Assert.Equal(expected, ex.SocketErrorCode);
        Assert.Contains(System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno), ex.Message, StringComparison.Ordinal);
        Assert.EndsWith("(connect)", ex.Message, StringComparison.Ordinal);
    }
}
