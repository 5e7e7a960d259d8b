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

    private readonly IDuplexPipe _transport;
    private readonly DuplexPipeStream _transportStream;
    private readonly Pipe _input = new(new PipeOptions(useSynchronizationContext: false));
    private Task _reading = Task.CompletedTask;

    public TlsDuplexPipe(IDuplexPipe transport)
    {
        _transport = transport;
        _transportStream = new DuplexPipeStream(transport);
        Stream = new SslStream(_transportStream, leaveInnerStreamOpen: true);
        Output = PipeWriter.Create(Stream, new StreamPipeWriterOptions(leaveOpen: true));
    }

    /// <summary>The TLS session: authenticate it first, then <see cref="StartReading"/>.</summary>
    public SslStream Stream { get; }

    public PipeReader Input => _input.Reader;

    public PipeWriter Output { get; }

    /// <summary>Starts decrypting what arrives into <see cref="Input"/>; call once the handshake is done.</summary>
    public void StartReading() => _reading = ReadAsync();

    /// <summary>
    /// Flushes what the application wrote, sends close_notify (unless the peer is gone), stops reading, and frees
    /// the session. The transport itself stays open for its owner to close.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await Output.CompleteAsync().ConfigureAwait(false);
            if (Stream.IsAuthenticated)
            {
                await Stream.ShutdownAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
            // The peer went away first: there is no one left to tell.
        }
        _transport.Input.CancelPendingRead();
        await _reading.ConfigureAwait(false);
        await Stream.DisposeAsync().ConfigureAwait(false);
    }

    private async Task ReadAsync()
    {
        Exception? error = null;
        PipeWriter input = _input.Writer;
        try
        {
            while (true)
            {
                int read = await Stream.ReadAsync(input.GetMemory(MinimumReadSize)).ConfigureAwait(false);
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
        catch (OperationCanceledException)
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
