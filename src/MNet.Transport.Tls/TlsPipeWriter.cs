using System.IO.Pipelines;
using System.Net.Security;

namespace MNet.Transport.Tls;

/// <summary>
/// The application's side of the TLS output: every call goes to the writer over the <see cref="SslStream"/>.
/// Completing it is TLS's half-close, as completing a TCP output sends FIN: what was written is flushed and
/// close_notify follows, so the peer's reads end cleanly while this side can still read. An output completed with an
/// error gets no close_notify (which would tell the peer that what it got was whole).
/// </summary>
internal sealed class TlsPipeWriter(PipeWriter inner, SslStream stream, SemaphoreSlim sessionGate) : PipeWriter
{
    private Task? _closing;

    /// <summary>
    /// The flush and close_notify started when the output was completed; it never faults (a peer that is gone has no
    /// one left to tell). Null while the output is open.
    /// </summary>
    public Task? Closing => _closing;

    public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => inner.UnflushedBytes;

    public override void Advance(int bytes) => inner.Advance(bytes);

    public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    public override void Complete(Exception? exception = null) => _closing ??= CloseAsync(exception);

    public override ValueTask CompleteAsync(Exception? exception = null)
    {
        Complete(exception);
        return new ValueTask(_closing!);
    }

    private async Task CloseAsync(Exception? exception)
    {
        try
        {
            await inner.CompleteAsync(exception).ConfigureAwait(false);
            if (exception is null && stream.IsAuthenticated)
            {
                // The close_notify is made (SSL_shutdown) before ShutdownAsync first yields, outside any TLS read;
                // only its write is awaited, so a read that needs the gate to take in the peer's bytes is not held up.
                Task closeNotify;
                await sessionGate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
                try
                {
                    closeNotify = stream.ShutdownAsync();
                }
                finally
                {
                    sessionGate.Release();
                }
                await closeNotify.ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The peer is gone or too slow, or the session broke (a bad record); the input tells the application.
        }
    }
}
