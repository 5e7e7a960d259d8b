using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;

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

    /// <summary>Receives from <paramref name="socket"/> until the peer's FIN and returns every byte.</summary>
    public static async Task<byte[]> ReceiveToEndAsync(Socket socket)
    {
        using MemoryStream all = new();
        byte[] buffer = new byte[4096];
        int read;
        while ((read = await socket.ReceiveAsync(buffer)) > 0)
        {
            all.Write(buffer, 0, read);
        }
        return all.ToArray();
    }
}
