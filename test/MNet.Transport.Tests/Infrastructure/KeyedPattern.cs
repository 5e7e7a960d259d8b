using System.Diagnostics;
using System.IO.Pipelines;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>
/// A byte stream of its own for every key: byte n of stream k comes from a 64-bit mix of (k, n / 8), so no stream
/// equals another at any offset, and a buffer handed to the wrong connection, or reused before its bytes were read,
/// shows up as a mismatch.
/// </summary>
public static class KeyedPattern
{
    public static byte At(long key, long offset)
    {
        ulong word = Mix(((ulong)key << 40) ^ (ulong)(offset >> 3));
        return (byte)(word >> (int)((offset & 7) * 8));
    }

    public static void Fill(Span<byte> destination, long key, long offset)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = At(key, offset + i);
        }
    }

    /// <exception cref="InvalidDataException">A byte differs from stream <paramref name="key"/>'s.</exception>
    public static void Verify(ReadOnlySpan<byte> data, long key, long offset)
    {
        for (int i = 0; i < data.Length; i++)
        {
            if (data[i] != At(key, offset + i))
            {
                throw new InvalidDataException($"Stream {key}: byte {offset + i} is {data[i]}, expected {At(key, offset + i)}.");
            }
        }
    }

    /// <summary>
    /// Writes stream <paramref name="key"/> in writes of 1 to <paramref name="maxWrite"/> bytes, a flush after each,
    /// until <paramref name="length"/> bytes are written or the <see cref="Stopwatch"/> timestamp
    /// <paramref name="deadline"/> passes; returns the bytes written.
    /// </summary>
    public static async Task<long> WriteAsync(
        PipeWriter output, long key, Random sizes, int maxWrite, long length = long.MaxValue, long deadline = long.MaxValue)
    {
        long written = 0;
        while (written < length && Stopwatch.GetTimestamp() < deadline)
        {
            int size = (int)Math.Min(length - written, sizes.Next(1, maxWrite + 1));
            Fill(output.GetSpan(size)[..size], key, written);
            output.Advance(size);
            written += size;
            FlushResult flush = await output.FlushAsync();
            if (flush.IsCompleted)
            {
                throw new IOException($"Stream {key}: the peer stopped reading after {written} bytes.");
            }
        }
        return written;
    }

    /// <summary>Reads <paramref name="input"/> to its end, verifying stream <paramref name="key"/>; returns the bytes read.</summary>
    public static async Task<long> ReadAndVerifyAsync(PipeReader input, long key)
    {
        long received = 0;
        while (true)
        {
            ReadResult read = await input.ReadAsync();
            foreach (ReadOnlyMemory<byte> segment in read.Buffer)
            {
                Verify(segment.Span, key, received);
                received += segment.Length;
            }
            input.AdvanceTo(read.Buffer.End);
            if (read.IsCompleted)
            {
                return received;
            }
        }
    }

    // SplitMix64's finalizer.
    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }
}
