namespace MNet.Transport.Tcp;

/// <summary>Short, process-unique connection ids: a random start, then a counter, in base32.</summary>
internal static class ConnectionIdGenerator
{
    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUV";
    private static long s_lastId = Random.Shared.NextInt64();

    public static string Next()
    {
        long id = Interlocked.Increment(ref s_lastId);
        return string.Create(13, id, static (buffer, value) =>
        {
            for (int i = buffer.Length - 1; i >= 0; i--)
            {
                buffer[i] = Alphabet[(int)(value & 31)];
                value = (long)((ulong)value >> 5);
            }
        });
    }
}
