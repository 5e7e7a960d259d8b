using System.Buffers;
using System.IO.Pipelines;

namespace MNet.Transport.Tls;

/// <summary>
/// A connection's pipes as the <see cref="Stream"/> <see cref="System.Net.Security.SslStream"/> reads records from
/// and writes records to. Reads copy out of the input pipe's buffers; asynchronous writes go into the output pipe and
/// are flushed at once. It records whether the transport ended, so a TLS read of 0 bytes can tell close_notify from truncation.
/// </summary>
internal sealed class DuplexPipeStream(IDuplexPipe transport) : Stream
{
    /// <summary>True once the input pipe ended (the peer's FIN, or a reset).</summary>
    public bool TransportEnded { get; private set; }

    /// <summary>
    /// The TLS session's gate (see <see cref="TlsDuplexPipe"/>), held by the read loop around each TLS read. A read
    /// that has to wait for the peer lets go of it meanwhile, since nothing is decrypted then. Null during the handshake.
    /// </summary>
    public SemaphoreSlim? SessionGate { get; set; }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            ValueTask<ReadResult> reading = transport.Input.ReadAsync(cancellationToken);
            ReadResult result = reading.IsCompleted || SessionGate is null
                ? await reading.ConfigureAwait(false)
                : await WaitForThePeerAsync(reading, SessionGate).ConfigureAwait(false);
            ReadOnlySequence<byte> data = result.Buffer;
            if (result.IsCanceled)
            {
                transport.Input.AdvanceTo(data.Start);
                throw new OperationCanceledException("The read of the transport was canceled.");
            }
            if (!data.IsEmpty)
            {
                int count = (int)Math.Min(buffer.Length, data.Length);
                data.Slice(0, count).CopyTo(buffer.Span);
                transport.Input.AdvanceTo(data.GetPosition(count));
                return count;
            }
            transport.Input.AdvanceTo(data.End);
            if (result.IsCompleted)
            {
                TransportEnded = true;
                return 0;
            }
        }
    }

    private static async ValueTask<ReadResult> WaitForThePeerAsync(ValueTask<ReadResult> reading, SemaphoreSlim gate)
    {
        gate.Release();
        try
        {
            return await reading.ConfigureAwait(false);
        }
        finally
        {
            await gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        FlushResult result = await transport.Output.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (result.IsCanceled)
        {
            throw new OperationCanceledException("The write to the transport was canceled: the peer did not read in time.");
        }
        if (result.IsCompleted)
        {
            throw new IOException("The transport's output was closed: the peer is gone.");
        }
    }

    /// <summary>
    /// Copies into the output pipe without flushing (a synchronous flush could only block): what an application's
    /// synchronous <c>Complete</c> leaves goes out with the next asynchronous write, at the latest the close_notify.
    /// </summary>
    public override void Write(ReadOnlySpan<byte> buffer) => transport.Output.Write(buffer);

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    // Asynchronous writes flush as they go; only bytes from synchronous writes wait here. Flushing an empty pipe would
    // still wake the transport's sender for nothing, once per TLS record.
    public override Task FlushAsync(CancellationToken cancellationToken)
        => transport.Output.CanGetUnflushedBytes && transport.Output.UnflushedBytes == 0 ? Task.CompletedTask : FlushPipeAsync(cancellationToken);

    private async Task FlushPipeAsync(CancellationToken cancellationToken)
    {
        FlushResult result = await transport.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (result.IsCanceled)
        {
            throw new OperationCanceledException("The flush to the transport was canceled: the peer did not read in time.");
        }
    }

    public override void Flush()
    {
    }

    // Reading synchronously would block a loop or pool thread on the pipe; SslStream's reads here are all asynchronous.
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Use ReadAsync.");


    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
