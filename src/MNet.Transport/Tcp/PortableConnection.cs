using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;

namespace MNet.Transport.Tcp;

/// <summary>
/// The portable backend's connection: a <see cref="Socket"/> whose asynchronous receives and sends .NET's socket engine
/// completes (epoll, kqueue or IOCP underneath). The loop owns its lifetime, runs its pipe continuations and closes it.
/// </summary>
internal sealed class PortableConnection : TcpConnection
{
    private const int StopReceivingRequested = 1;
    private const int SendingEnded = 2;
    // Bytes received without the receive loop yielding its thread (the loop's, at first) to others.
    private const int MaxBytesPerReceivePass = 256 * 1024;

    private readonly Socket _socket;
    private readonly SocketOperation _receiver;
    private ulong _registration;
    private int _shutdownState;
    private volatile bool _closing;

    public PortableConnection(Socket socket, TcpConnectionSettings settings, EndPoint? localEndPoint, EndPoint? remoteEndPoint)
        : base(settings, localEndPoint, remoteEndPoint)
    {
        _socket = socket;
        _receiver = new SocketOperation(settings.ReceiveScheduler);
    }

    /// <summary>
    /// Connects a new socket to <paramref name="remote"/> (IP or Unix) and starts the connection on
    /// <paramref name="settings"/>' loop. Fails with a <see cref="SocketException"/> naming the endpoint, or
    /// <see cref="OperationCanceledException"/>.
    /// </summary>
    public static async Task<TcpConnection> ConnectAsync(EndPoint remote, TcpConnectionSettings settings, CancellationToken cancellationToken)
    {
        Socket socket = new(remote.AddressFamily, SocketType.Stream, remote is IPEndPoint ? ProtocolType.Tcp : ProtocolType.Unspecified);
        try
        {
            if (settings.NoDelay && remote is IPEndPoint)
            {
                socket.NoDelay = true;
            }
            await socket.ConnectAsync(remote, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            socket.Dispose();
            throw ex switch
            {
                SocketException socketError => new SocketException((int)socketError.SocketErrorCode, $"{socketError.Message} (connect {remote})"),
                OperationCanceledException => ConnectCanceled(remote, cancellationToken),
                _ => ex,
            };
        }

        PortableConnection connection = new(socket, settings, socket.LocalEndPoint, remote);
        settings.Loop.Schedule(static state => ((PortableConnection)state!).Start(), connection);
        return connection;
    }

    public override void Start()
    {
        try
        {
            _registration = Loop.Track(this);
        }
        catch (Exception ex)
        {
            _socket.Dispose();
            _receiver.Dispose();
            FailStart(ex);
            return;
        }

        _ = RunAsync();
    }

    protected override async Task ReceiveAsync()
    {
        PipeWriter writer = Input.Writer;
        Exception? error = null;
        bool filledLast = false;
        int bytesThisPass = 0;
        try
        {
            while (!IsStopReceivingRequested)
            {
                if (!filledLast)
                {
                    // Wait for data before taking a buffer, so an idle connection holds none. After a read that filled
                    // its buffer (a bulk transfer) more is almost surely there: read on at once.
                    if (!_receiver.ReceiveAsync(_socket, Memory<byte>.Empty).IsCompleted)
                    {
                        bytesThisPass = 0;
                    }
                    await _receiver;
                    if (IsStopReceivingRequested)
                    {
                        break;
                    }
                }

                Memory<byte> buffer = writer.GetMemory();
                int received = await _receiver.ReceiveAsync(_socket, buffer);
                if (received == 0)
                {
                    break; // FIN, after every byte before it
                }
                writer.Advance(received);
                MarkActive();
                filledLast = received == buffer.Length;
                bytesThisPass += received;
                if (bytesThisPass >= MaxBytesPerReceivePass)
                {
                    // Data kept arriving faster than it was read, so nothing went asynchronous: let the thread go to
                    // other work (the loop's other connections, the application) before reading on.
                    bytesThisPass = 0;
                    await Task.Yield();
                }

                FlushResult flush = await writer.FlushAsync().ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception ex)
        {
            error = Translate(ex);
        }
        CompleteInput(error);
    }

    protected override async Task SendAsync()
    {
        PipeReader reader = Output.Reader;
        Exception? error = null;
        try
        {
            while (true)
            {
                ReadResult result = await reader.ReadAsync().ConfigureAwait(false);
                if (ShouldStopSending(result))
                {
                    break;
                }

                ReadOnlySequence<byte> buffer = result.Buffer;
                if (!buffer.IsEmpty)
                {
                    SocketOperation sender = Settings.Senders.Rent();
                    try
                    {
                        await sender.SendAsync(_socket, buffer); // all of it: a stream send completes when everything is sent
                    }
                    finally
                    {
                        sender.ClearBuffers(); // so the pool keeps no pipe memory alive
                        Settings.Senders.Return(sender);
                    }
                    MarkActive();
                }
                reader.AdvanceTo(buffer.End);

                if (result.IsCompleted)
                {
                    ShutdownSend();
                    break;
                }
            }
        }
        catch (Exception ex)
        {
            error = Translate(ex);
        }

        CompleteOutput(error);
        OnShutdownStep(SendingEnded);
    }

    private bool IsStopReceivingRequested => (Volatile.Read(ref _shutdownState) & StopReceivingRequested) != 0;

    protected override void StopReceiving()
    {
        OnShutdownStep(StopReceivingRequested);
        Input.Writer.CancelPendingFlush();
    }

    protected override void StopSending()
    {
        Output.Reader.CancelPendingRead();
        if (TransportError is not null)
        {
            // Receiving failed: a send in progress (to a peer that does not read) would never end otherwise.
            CloseEarly();
        }
    }

    protected override void OnAborted()
    {
        try
        {
            _socket.LingerState = new LingerOption(enable: true, seconds: 0); // close with a reset
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already closed or reset: nothing to abort on the wire.
        }
        StopSending();
        StopReceiving();
        // Ends a receive or send in progress: they fail and find the abort reason.
        CloseEarly();
    }

    protected override void CloseSocket()
    {
        Loop.Unregister(_registration);
        _socket.Dispose();
        _receiver.Dispose();
    }

    /// <summary>Closes the socket while an operation may be in progress; what that operation then reports is not an error.</summary>
    private void CloseEarly()
    {
        _closing = true;
        _socket.Dispose();
    }

    private void ShutdownSend()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // The peer is gone already; the receive side reports it.
        }
    }

    /// <summary>
    /// A pending receive can only be ended by closing the socket, which must wait until sending has ended (what the
    /// application wrote still drains). So the socket closes early once both happened: receiving was asked to stop
    /// and sending ended. Any thread.
    /// </summary>
    private void OnShutdownStep(int step)
    {
        int before = Interlocked.Or(ref _shutdownState, step);
        if ((before | step) == (StopReceivingRequested | SendingEnded) && before != (before | step))
        {
            CloseEarly();
        }
    }

    /// <summary>
    /// What a failed operation means for the pipes: nothing when the transport itself ended it (abort, stop, an early
    /// close: the operation then fails with whatever the close produced, OperationAborted, InvalidArgument for a closed
    /// descriptor, NotConnected...), a reset for the peer's reset, the exception otherwise.
    /// </summary>
    private Exception? Translate(Exception exception) => exception switch
    {
        SocketException or ObjectDisposedException when _closing || AbortReason is not null => null,
        SocketException { SocketErrorCode: SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown } reset
            => new ConnectionResetException(reset.Message, reset),
        _ => exception,
    };
}
