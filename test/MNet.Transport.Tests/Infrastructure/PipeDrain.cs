using System.Buffers;
using System.IO.Pipelines;

namespace MNet.Transport.Tests.Infrastructure;

public static class PipeDrain
{
    /// <summary>Reads <paramref name="reader"/> to its end and returns every byte.</summary>
    public static async Task<byte[]> ReadToEndAsync(PipeReader reader)
    {
        using MemoryStream all = new();
        while (true)
        {
            ReadResult result = await reader.ReadAsync();
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
            {
                all.Write(segment.Span);
            }
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return all.ToArray();
            }
        }
    }
}
