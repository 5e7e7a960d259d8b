using System.IO.Pipelines;

namespace EchoServer;

/// <summary>Passes a duplex pipe through, counting the bytes the application consumes and writes.</summary>
internal sealed class CountingDuplexPipe(IDuplexPipe inner) : IDuplexPipe
{
    private readonly CountingReader _input = new(inner.Input);
    private readonly CountingWriter _output = new(inner.Output);

    public PipeReader Input => _input;

    public PipeWriter Output => _output;

    public long BytesRead => _input.Count;

    public long BytesWritten => _output.Count;

    private sealed class CountingReader(PipeReader inner) : PipeReader
    {
        private ReadResult _last;

        public long Count { get; private set; }

        public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            Count += _last.Buffer.Slice(0, consumed).Length;
            inner.AdvanceTo(consumed, examined);
        }

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
            => _last = await inner.ReadAsync(cancellationToken);

        public override bool TryRead(out ReadResult result)
        {
            bool read = inner.TryRead(out result);
            _last = result;
            return read;
        }
    }

    private sealed class CountingWriter(PipeWriter inner) : PipeWriter
    {
        public long Count { get; private set; }

        public override void Advance(int bytes)
        {
            Count += bytes;
            inner.Advance(bytes);
        }

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);
    }
}
