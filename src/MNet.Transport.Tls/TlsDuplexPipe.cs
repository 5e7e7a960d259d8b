using System.IO.Pipelines;
using System.Net.Security;

namespace MNet.Transport.Tls;

/// <summary>
/// The plaintext side of a TLS session over a connection's pipes. The application's writes go through a
/// <see cref="PipeWriter"/> straight onto the <see cref="SslStream"/>; its reads come from a pipe that one loop fills
/// by decrypting into the pipe's own buffers. A peer that ends the transport without close_notify fails the input
/// with an <see cref="IOException"/> instead of a clean end, so a cut-off stream is never taken for a whole one.
/// </summary>
internal sealed class TlsDuplexPipe : IDuplexPipe, IAsyncDisposable
{
    // A whole TLS record (16 KiB of plaintext) per read: smaller reads split each record into several flushes.
    private const int MinimumReadSize = 16 * 1024;
    // How long closing may wait for a peer that does not read before the close_notify is given up.
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(5);

    private readonly IDuplexPipe _transport;
    private readonly DuplexPipeStream _transportStream;
    // The application's read resumes on the read loop's thread (already off the event loop): no second hop per record.
    private readonly Pipe _input = new(new PipeOptions(readerScheduler: PipeScheduler.Inline, useSynchronizationContext: false));
    private readonly TlsPipeWriter _output;
    private readonly CancellationTokenSource _stopReading = new();
    // SslStream keeps its own decryption and encryption apart, but not the SSL_shutdown that makes a close_notify:
    // that one also reads OpenSSL's incoming record buffer, and run beside a decryption it can swallow a record the
    // read just handed in, so the next record fails its MAC. The gate keeps a close_notify out of any TLS read.
    private readonly SemaphoreSlim _sessionGate = new(1, 1);
    private Task _reading = Task.CompletedTask;

    public TlsDuplexPipe(IDuplexPipe transport)
    {
        _transport = transport;
        _transportStream = new DuplexPipeStream(transport);
        Stream = new SslStream(_transportStream, leaveInnerStreamOpen: true);
        _output = new TlsPipeWriter(PipeWriter.Create(Stream, new StreamPipeWriterOptions(leaveOpen: true)), Stream, _sessionGate);
    }

    /// <summary>The TLS session: authenticate it first, then <see cref="StartReading"/>.</summary>
    public SslStream Stream { get; }

    public PipeReader Input => _input.Reader;

    public PipeWriter Output => _output;

    /// <summary>Starts decrypting what arrives into <see cref="Input"/>; call once the handshake is done.</summary>
    public void StartReading()
    {
        _transportStream.SessionGate = _sessionGate;
        _reading = ReadAsync();
    }

    /// <summary>
    /// Ends the session: flushes what the application wrote and sends close_notify (unless the application ended its
    /// output with an error, the session broke, or the peer does not read for <see cref="CloseTimeout"/>), stops
    /// reading, and frees the session. Never throws; the transport stays open for its owner to close.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        // Reading stops first: the session is freed below, and no decryption may be running on it then.
        _input.Reader.Complete(); // a read loop waiting for the application to read ends
        _stopReading.Cancel(); // one waiting for the peer too
        await _reading.ConfigureAwait(false);

        using (CancellationTokenSource closeTimeout = new(CloseTimeout))
        using (closeTimeout.Token.UnsafeRegister(static transport => ((IDuplexPipe)transport!).Output.CancelPendingFlush(), _transport))
        {
            _output.Complete(); // unless the application completed it already: flush, then close_notify
            await _output.Closing!.ConfigureAwait(false);
        }
        await Stream.DisposeAsync().ConfigureAwait(false);
        _stopReading.Dispose();
        _sessionGate.Dispose();
    }

    private async Task ReadAsync()
    {
        Exception? error = null;
        PipeWriter input = _input.Writer;
        try
        {
            while (true)
            {
                int read;
                await _sessionGate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
                try
                {
                    read = await Stream.ReadAsync(input.GetMemory(MinimumReadSize), _stopReading.Token).ConfigureAwait(false);
                }
                finally
                {
                    _sessionGate.Release();
                }
                if (read == 0)
                {
                    if (_transportStream.TransportEnded)
                    {
                        error = new IOException("The peer closed the connection without a TLS close_notify: what it sent may be cut short.");
                    }
                    break;
                }
                input.Advance(read);
                FlushResult flushed = await input.FlushAsync().ConfigureAwait(false);
                if (flushed.IsCompleted)
                {
                    break; // the application stopped reading
                }
            }
        }
        catch (OperationCanceledException) when (_stopReading.IsCancellationRequested)
        {
            // Disposed while waiting for the peer.
        }
        catch (Exception ex)
        {
            error = ex;
        }
        await input.CompleteAsync(error).ConfigureAwait(false);
    }
}
