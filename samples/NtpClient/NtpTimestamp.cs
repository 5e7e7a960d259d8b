using System.Buffers.Binary;

namespace NtpClient;

/// <summary>An NTP timestamp: seconds since 1900-01-01 UTC in 32.32 fixed point (era 0, which lasts until 2036).</summary>
internal readonly record struct NtpTimestamp(ulong Value)
{
    private static readonly DateTime Epoch = new(1900, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public const int Size = 8;

    public static NtpTimestamp FromDateTime(DateTime utc)
    {
        double seconds = (utc - Epoch).TotalSeconds;
        return new NtpTimestamp((ulong)(seconds * 4294967296.0));
    }

    public DateTime ToDateTime() => Epoch.AddTicks((long)(Value / 4294967296.0 * TimeSpan.TicksPerSecond));

    public static NtpTimestamp Read(ReadOnlySpan<byte> source) => new(BinaryPrimitives.ReadUInt64BigEndian(source));

    public void Write(Span<byte> destination) => BinaryPrimitives.WriteUInt64BigEndian(destination, Value);
}
