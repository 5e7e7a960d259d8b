using System.IO.Pipelines;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>m_net's test pattern: byte n of a stream is n mod 256.</summary>
public static class BytePattern
{
    /// <summary>A block of the pattern; its size is a multiple of 256, so it fits at any offset of the stream.</summary>
    public static byte[] Block(int size = 64 * 1024)
    {
        if (size % 256 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "The block size must be a multiple of 256.");
        }
        byte[] block = new byte[size];
        for (int i = 0; i < block.Length; i++)
        {
            block[i] = (byte)i;
        }
        return block;
    }

    /// <summary>Throws unless <paramref name="data"/> is the pattern starting at stream offset <paramref name="offset"/>.</summary>
    public static void Verify(ReadOnlySpan<byte> data, long offset)
    {
        for (int i = 0; i < data.Length; i++)
        {
            if (data[i] != (byte)(offset + i))
            {
                throw new InvalidDataException($"Byte {offset + i} is {data[i]}, expected {(byte)(offset + i)}.");
            }
        }
    }

    /// <summary>Writes the first <paramref name="length"/> bytes of the pattern to <paramref name="output"/>, a flush per block.</summary>
    public static async Task WriteAsync(PipeWriter output, long length, int blockSize = 64 * 1024)
    {
        byte[] block = Block(blockSize);
        for (long sent = 0; sent < length; sent += block.Length)
        {
            await output.WriteAsync(block.AsMemory(0, (int)Math.Min(block.Length, length - sent)));
        }
    }

    /// <summary>
    /// Reads <paramref name="input"/> until <paramref name="length"/> bytes came or it ended, verifying every byte
    /// against the pattern; returns how many came.
    /// </summary>
    public static async Task<long> ReadAndVerifyAsync(PipeReader input, long length = long.MaxValue)
    {
        long received = 0;
        while (received < length)
        {
            ReadResult read = await input.ReadAsync();
            foreach (ReadOnlyMemory<byte> segment in read.Buffer)
            {
                Verify(segment.Span, received);
                received += segment.Length;
            }
            input.AdvanceTo(read.Buffer.End);
            if (read.IsCompleted)
            {
                break;
            }
        }
        return received;
    }
}
