using System.Net;
using MNet.Transport.Native;

namespace MNet.Transport.Tcp;

/// <summary>The client side: a nonblocking connect whose completion a one-shot poll on the ring reports.</summary>
internal sealed partial class IoUringConnection
{
    private const uint PollOut = 0x4;

    /// <summary>
    /// Connects to <paramref name="remote"/> (IP or Unix) on <paramref name="settings"/>' loop and starts the connection.
    /// Fails with a <see cref="System.Net.Sockets.SocketException"/> naming the endpoint, or <see cref="OperationCanceledException"/>.
    /// </summary>
    public static Task<TcpConnection> ConnectAsync(EndPoint remote, TcpConnectionSettings settings, CancellationToken cancellationToken)
        => ConnectOnLoop(remote, settings, ConnectOnLoopAsync, cancellationToken);

    private static async Task ConnectOnLoopAsync(EndPoint remote, TcpConnectionSettings settings, TaskCompletionSource<TcpConnection> result, CancellationToken cancellationToken)
    {
        int fd;
        int error;
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            (fd, error) = NonblockingConnect.Start(remote, settings.NoDelay);
        }
        catch (OperationCanceledException)
        {
            result.TrySetException(ConnectCanceled(remote, cancellationToken));
            return;
        }
        catch (Exception ex)
        {
            result.TrySetException(ex);
            return;
        }

        IoUringConnection connection = new(fd, settings, localEndPoint: null, remote);
        connection._id = connection._ring.Register(connection);
        connection._hasId = true;
        if (error == Errno.EINPROGRESS)
        {
            connection.SubmitConnectPoll();
            CancellationTokenRegistration cancel = cancellationToken.UnsafeRegister(
                static state => ((IoUringConnection)state!).Loop.Schedule(
                    static state => ((IoUringConnection)state!).CancelConnect(), state),
                connection);
            await connection._sent.WaitAsync().ConfigureAwait(false);
            cancel.Dispose(); // synchronously: what follows touches the ring, which only this loop thread may
            error = connection._connectResult == -Errno.ECANCELED ? Errno.ECANCELED : Libc.GetIntOption(fd, Libc.SOL_SOCKET, Libc.SO_ERROR);
        }

        if (error != 0)
        {
            connection._ring.Unregister(connection._id);
            Libc.Close(fd);
            connection.FailStart(null);
            result.TrySetException(error == Errno.ECANCELED
                ? ConnectCanceled(remote, cancellationToken)
                : Errno.ToSocketException(error, $"connect {remote}"));
            return;
        }

        connection.LocalEndPoint = SockAddr.GetSockName(fd, remote.AddressFamily);
        connection.Start();
        result.TrySetResult(connection);
    }

    /// <summary>A one-shot poll for writability: a nonblocking connect has finished, either way, when it fires.</summary>
    private unsafe void SubmitConnectPoll()
    {
        IoUringSqe* sqe = _ring.GetSqe(_id, ConnectOperation);
        sqe->Opcode = IoUring.OP_POLL_ADD;
        sqe->Fd = _fd;
        sqe->OperationFlags = PollOut;
    }

    private void CancelConnect() => _ring.Cancel(_id, ConnectOperation);
}
