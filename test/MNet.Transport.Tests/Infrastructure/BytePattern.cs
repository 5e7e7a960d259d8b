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
}
