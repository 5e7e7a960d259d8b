using System.IO.Pipelines;

namespace MNet.Transport.Tls;

/// <summary>
/// The application's side of the TLS output: every call goes to the writer over the <see cref="System.Net.Security.SslStream"/>,
/// and how the application completed it is remembered, so an output ended by an error is not closed with close_notify
/// (which would tell the peer that what it got was whole).
/// </summary>
internal sealed class TlsPipeWriter(PipeWriter inner) : PipeWriter
{
    /// <summary>The error the application completed the output with, if any.</summary>
    public Exception? CompletionError { get; private set; }

    public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => inner.UnflushedBytes;

    public override void Advance(int bytes) => inner.Advance(bytes);

    public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    public override void Complete(Exception? exception = null)
    {
        CompletionError ??= exception;
        inner.Complete(exception);
    }

    public override ValueTask CompleteAsync(Exception? exception = null)
    {
        CompletionError ??= exception;
        return inner.CompleteAsync(exception);
    }
}
