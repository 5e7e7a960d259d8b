using System.IO.Pipelines;
using System.Net;
using MNet.Transport.Diagnostics;
using MNet.Transport.Loop;
using MNet.Transport.Native;
using Microsoft.AspNetCore.Connections;

namespace MNet.Transport.Tcp;

/// <summary>
/// A connected stream socket (TCP or Unix) owned by one <see cref="EventLoop"/>: the pipes, features, lifetime and
/// idle timeout every backend shares. A backend supplies the receive and send loops; this runs them and closes the
/// socket on the loop once both have ended.
/// </summary>
internal abstract partial class TcpConnection : ConnectionContext, ILoopResident
{
    private readonly CancellationTokenSource _connectionClosedTokenSource = new();
    // Completed on the thread pool (see SignalClosed), so its continuations, the application's end of DisposeAsync,
    // run there inline and never on the loop.
    private readonly TaskCompletionSource _processed = new();
    private volatile ConnectionAbortedException? _abortReason;
    private Exception? _transportError;
    private volatile bool _sendingEnded;
    private int _closedFired;
    // ConnectionClosed's callbacks done, socket closed: the second of the two ends DisposeAsync, so a dispose never
    // ends while the callbacks still run (as with Kestrel's Sockets transport).
    private int _closeSteps;

    protected TcpConnection(TcpConnectionSettings settings, EndPoint? localEndPoint, EndPoint? remoteEndPoint)
    {
        Settings = settings;
        Loop = settings.Loop;
        Input = new Pipe(settings.InputOptions);
        Output = new Pipe(settings.OutputOptions);
        Transport = new DuplexPipe(Input.Reader, Output.Writer);
        LocalEndPoint = localEndPoint;
        RemoteEndPoint = remoteEndPoint;
        ConnectionClosed = _connectionClosedTokenSource.Token;
    }

    public override IDuplexPipe Transport { get; set; }

    public override CancellationToken ConnectionClosed { get; set; }

    protected TcpConnectionSettings Settings { get; }

    protected EventLoop Loop { get; }

    /// <summary>Received bytes: the transport writes <see cref="Pipe.Writer"/>, the application reads.</summary>
    protected Pipe Input { get; }

    /// <summary>Bytes to send: the application writes, the transport reads <see cref="Pipe.Reader"/>.</summary>
    protected Pipe Output { get; }

    protected ConnectionAbortedException? AbortReason => _abortReason;

    /// <summary>The first failure either direction saw; the other direction stops on it.</summary>
    protected Exception? TransportError => Volatile.Read(ref _transportError);

    /// <summary>Takes the socket into the loop and starts both directions. Loop thread only.</summary>
    public abstract void Start();

    public override void Abort(ConnectionAbortedException abortReason)
    {
        if (Interlocked.CompareExchange(ref _abortReason, abortReason, null) is null)
        {
            Loop.Schedule(static state => ((TcpConnection)state!).OnAborted(), this);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        Input.Reader.Complete();
        Output.Writer.Complete();
        // Nobody reads any more: stop waiting for input, while what was written still drains to the socket.
        Loop.Schedule(static state => ((TcpConnection)state!).StopReceiving(), this);
        // The token source is not disposed: it has no timer, and ConnectionClosed may still fire on the thread pool.
        await _processed.Task.ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    void ILoopResident.OnLoopStopping()
        => Abort(new ConnectionAbortedException("The transport is shutting down."));

    /// <summary>Receives into <see cref="Input"/> until the peer finishes, an error, or <see cref="StopReceiving"/>.</summary>
    protected abstract Task ReceiveAsync();

    /// <summary>Sends what <see cref="Output"/> holds until the application completes it, an error, or <see cref="StopSending"/>.</summary>
    protected abstract Task SendAsync();

    /// <summary>Ends <see cref="ReceiveAsync"/> soon. Loop thread.</summary>
    protected abstract void StopReceiving();

    /// <summary>Ends <see cref="SendAsync"/> soon. Loop thread.</summary>
    protected abstract void StopSending();

    /// <summary>After <see cref="Abort"/>, on the loop thread: end both directions; the socket is to close with a reset.</summary>
    protected abstract void OnAborted();

    /// <summary>Closes the socket once both directions have ended (with a reset after an abort). Loop thread.</summary>
    protected abstract void CloseSocket();

    protected async Task RunAsync()
    {
        Task receiving = ReceiveAsync();
        Task sending = SendAsync();
        await receiving.ConfigureAwait(false);
        await sending.ConfigureAwait(false);

        if (Loop.IsOnLoopThread)
        {
            Close();
        }
        else
        {
            // The close belongs to the loop (a continuation ran elsewhere: an I/O thread, a deep stack, a stopped loop).
            Loop.Schedule(static state => ((TcpConnection)state!).Close(), this);
        }
    }

    protected void Close()
    {
        try
        {
            _idleTimer?.Dispose();
            CloseSocket();
        }
        catch (Exception ex)
        {
            // A close that fails (an io_uring ring refusing the slot's update) must not keep the application from
            // hearing that the connection is closed.
            LogUnexpected(ex);
        }
        finally
        {
            SignalClosed();
        }
    }

    /// <summary>Ends a connection that never started: its socket is already closed and nobody has read its pipes.</summary>
    protected void FailStart(Exception? error)
    {
        Input.Writer.Complete(error);
        Output.Reader.Complete(error);
        SignalClosed();
    }

    /// <summary>
    /// The end of <see cref="ReceiveAsync"/>: an <paramref name="error"/> stops sending too; the application reads
    /// why the input ended (the abort, the error, or the send side's failure), and hears that the peer is gone.
    /// </summary>
    protected void CompleteInput(Exception? error)
    {
        if (error is not null)
        {
            LogUnexpected(error);
            Interlocked.CompareExchange(ref _transportError, error, null);
            StopSending();
        }
        Input.Writer.Complete(_abortReason ?? error ?? TransportError);
        if (!_sendingEnded)
        {
            // As Kestrel's Sockets transport: the peer is gone (or went quiet for good) while the application may
            // still be writing. Once sending has ended too, Close follows at once and signals both in one work item.
            FireConnectionClosed();
        }
    }

    /// <summary>
    /// The end of <see cref="SendAsync"/>: an <paramref name="error"/> stops receiving too. After a graceful end (FIN
    /// sent) receiving goes on: the peer may still be sending (half-close).
    /// </summary>
    protected void CompleteOutput(Exception? error)
    {
        if (error is not null)
        {
            LogUnexpected(error);
            Interlocked.CompareExchange(ref _transportError, error, null);
            StopReceiving();
        }
        // As with Kestrel's Sockets transport, a reset or an abort ends the application's flushes with IsCompleted,
        // not an exception (Kestrel logs flush exceptions as unexpected); the input carries the reason.
        Output.Reader.Complete(error is ConnectionResetException ? null : error);
        _sendingEnded = true;
    }

    /// <summary>
    /// The flags to send <paramref name="result"/>'s bytes with. Once the application has completed its output, the
    /// tail is held back (MSG_MORE) for the shutdown that follows to carry with the FIN: a close after a response (as
    /// HTTP's "Connection: close") takes one segment instead of two, and the peer one acknowledgement less.
    /// </summary>
    protected static int SendFlags(in ReadResult result) => result.IsCompleted ? Libc.MSG_NOSIGNAL | Libc.MSG_MORE : Libc.MSG_NOSIGNAL;

    /// <summary>Whether the send loop ends instead of sending <paramref name="result"/>: stopped, aborted, or failed.</summary>
    protected bool ShouldStopSending(in ReadResult result) => result.IsCanceled || _abortReason is not null || TransportError is not null;

    /// <summary>
    /// Runs <paramref name="connect"/> on <paramref name="settings"/>' loop (a native connect touches the loop's
    /// poller, which only its thread may) and returns what it sets on its result.
    /// </summary>
    protected static Task<TcpConnection> ConnectOnLoop(
        EndPoint remote,
        TcpConnectionSettings settings,
        Func<EndPoint, TcpConnectionSettings, TaskCompletionSource<TcpConnection>, CancellationToken, Task> connect,
        CancellationToken cancellationToken)
    {
        TaskCompletionSource<TcpConnection> result = new(TaskCreationOptions.RunContinuationsAsynchronously);
        settings.Loop.Schedule(
            static state =>
            {
                var (remote, settings, token, result, connect) = ((EndPoint, TcpConnectionSettings, CancellationToken, TaskCompletionSource<TcpConnection>, Func<EndPoint, TcpConnectionSettings, TaskCompletionSource<TcpConnection>, CancellationToken, Task>))state!;
                _ = connect(remote, settings, result, token);
            },
            (remote, settings, cancellationToken, result, connect));
        return result.Task;
    }

    protected static OperationCanceledException ConnectCanceled(EndPoint remote, CancellationToken cancellationToken)
        => new($"The connect to {remote} was canceled.", cancellationToken);

    private void LogUnexpected(Exception error)
    {
        if (error is not ConnectionResetException)
        {
            MNetTransportLog.ConnectionError(Settings.Logger, ConnectionId, error);
        }
    }

    private void FireConnectionClosed()
    {
        if (Interlocked.Exchange(ref _closedFired, 1) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(
                static connection =>
                {
                    connection.CancelConnectionClosed();
                    if (Interlocked.Increment(ref connection._closeSteps) == 2)
                    {
                        connection._processed.SetResult(); // the socket closed while the callbacks ran
                    }
                },
                this,
                preferLocal: false);
        }
    }

    /// <summary>
    /// Ends <see cref="DisposeAsync"/> once the socket is closed. Fires <see cref="ConnectionClosed"/> first if that is
    /// still to do, in the same thread-pool work item (a connection that closes after its application, as every
    /// HTTP/1.1 close, took two); if the callbacks are still running, the last of them ends the dispose instead.
    /// </summary>
    private void SignalClosed()
    {
        if (Interlocked.Exchange(ref _closedFired, 1) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(
                static connection =>
                {
                    connection.CancelConnectionClosed();
                    connection._processed.SetResult();
                },
                this,
                preferLocal: false);
        }
        else if (Interlocked.Increment(ref _closeSteps) == 2)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static connection => connection._processed.SetResult(), this, preferLocal: false);
        }
    }

    private void CancelConnectionClosed()
    {
        try
        {
            _connectionClosedTokenSource.Cancel();
        }
        catch (Exception ex)
        {
            MNetTransportLog.ConnectionClosedCallbackFailed(Settings.Logger, ConnectionId, ex);
        }
    }
}
