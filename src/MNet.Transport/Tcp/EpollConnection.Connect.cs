using System.Net;
using System.Net.Sockets;
using MNet.Transport.Native;
using Microsoft.AspNetCore.Connections;

namespace MNet.Transport.Tcp;

/// <summary>The client side: a nonblocking connect that finishes on the connection's loop.</summary>
internal sealed partial class EpollConnection
{
    /// <summary>
    /// Connects to <paramref name="remote"/> (IP or Unix) on <paramref name="settings"/>' loop and starts the connection.
    /// Fails with a <see cref="SocketException"/> naming the endpoint, or <see cref="OperationCanceledException"/>.
    /// </summary>
    public static Task<TcpConnection> ConnectAsync(EndPoint remote, TcpConnectionSettings settings, CancellationToken cancellationToken)
        => ConnectOnLoop(remote, settings, ConnectOnLoopAsync, cancellationToken);

    private static async Task ConnectOnLoopAsync(EndPoint remote, TcpConnectionSettings settings, TaskCompletionSource<TcpConnection> result, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            result.TrySetException(ConnectCanceled(remote, cancellationToken));
            return;
        }

        int fd;
        int error;
        try
        {
            (fd, error) = NonblockingConnect.Start(remote, settings.NoDelay);
        }
        catch (Exception ex)
        {
            result.TrySetException(ex);
            return;
        }
        if (error is not (0 or Errno.EINPROGRESS))
        {
            Libc.Close(fd);
            result.TrySetException(Errno.ToSocketException(error, $"connect {remote}"));
            return;
        }

        EpollConnection connection = new(fd, settings, localEndPoint: null, remote);
        try
        {
            connection._registration = connection.Loop.Register(fd, connection);
        }
        catch (Exception ex)
        {
            connection.FailConnect();
            result.TrySetException(ex);
            return;
        }

        if (error == Errno.EINPROGRESS)
        {
            CancellationTokenRegistration cancel = cancellationToken.UnsafeRegister(
                static state => ((EpollConnection)state!).Abort(new ConnectionAbortedException("The connect was canceled.")),
                connection);
            await connection._writable.WaitAsync().ConfigureAwait(false);
            cancel.Dispose(); // waits out a callback in flight, so the abort check below sees it

            error = connection.AbortReason is null ? Libc.GetIntOption(fd, Libc.SOL_SOCKET, Libc.SO_ERROR) : 0;
            if (connection.AbortReason is not null || error != 0)
            {
                connection.FailConnect();
                result.TrySetException(error != 0
                    ? Errno.ToSocketException(error, $"connect {remote}")
                    : ConnectCanceled(remote, cancellationToken));
                return;
            }
        }

        connection.LocalEndPoint = SockAddr.GetSockName(fd, remote.AddressFamily);
        _ = connection.RunAsync();
        result.TrySetResult(connection);
    }

    /// <summary>Releases a connection whose connect did not succeed; nobody has seen its pipes.</summary>
    private void FailConnect()
    {
        Input.Writer.Complete();
        Output.Reader.Complete();
        Close();
    }
}
