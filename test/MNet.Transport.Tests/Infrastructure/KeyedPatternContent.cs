using System.IO.Pipelines;
using System.Net;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>An HTTP request body of <see cref="KeyedPattern"/> stream <c>key</c>, written in random-sized flushes.</summary>
public sealed class KeyedPatternContent(long key, long bytes, Random sizes) : HttpContent
{
    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        PipeWriter writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
        await KeyedPattern.WriteAsync(writer, key, sizes, maxWrite: 64 * 1024, length: bytes);
        await writer.CompleteAsync();
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false; // chunked, so a cut shows as a body that never ended rather than a short one
    }
}
