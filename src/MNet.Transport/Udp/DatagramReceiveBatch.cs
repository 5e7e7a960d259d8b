using MNet.Transport.Native;

namespace MNet.Transport.Udp;

/// <summary>
/// One recvmmsg call's worth of datagrams: the first goes straight into the caller's buffer, the rest wait in
/// internal slots of the same size until the next receives take them, so a burst costs one syscall.
/// Not thread-safe; the owning channel serializes access.
/// </summary>
internal sealed unsafe class DatagramReceiveBatch
{
    public const int MaxDatagrams = 32;

    // Slots for datagrams received ahead share this many bytes, so small datagrams batch deeply and large ones don't.
    private const int AheadBytes = 64 * 1024;

    private readonly MultipleMessageHeader[] _headers = GC.AllocateArray<MultipleMessageHeader>(MaxDatagrams, pinned: true);
    private readonly IOVector[] _vectors = GC.AllocateArray<IOVector>(MaxDatagrams, pinned: true);
    private readonly byte[] _addresses = GC.AllocateArray<byte>(MaxDatagrams * SockAddr.MaxIPSize, pinned: true);
    private readonly byte[] _slots = GC.AllocateUninitializedArray<byte>(AheadBytes, pinned: true);
    private int _count;
    private int _next;

    /// <summary>Whether datagrams received ahead are waiting.</summary>
    public bool HasAhead => _next < _count;

    /// <summary>
    /// Receives the next datagram into <paramref name="first"/> and whatever else is already queued (up to the
    /// batch size) into the slots. Returns false with errno set when the call failed (EAGAIN when nothing is there).
    /// </summary>
    public bool TryReceive(int fd, Span<byte> first, out ReceivedDatagram datagram)
    {
        int slotSize = first.Length;
        int ahead = slotSize == 0 ? 0 : Math.Min(MaxDatagrams - 1, AheadBytes / slotSize);
        fixed (byte* firstPointer = first)
        fixed (byte* addresses = _addresses)
        fixed (byte* slots = _slots)
        fixed (IOVector* vectors = _vectors)
        fixed (MultipleMessageHeader* headers = _headers)
        {
            Prepare(headers, vectors, addresses, 0, firstPointer, slotSize);
            for (int i = 1; i <= ahead; i++)
            {
                Prepare(headers, vectors, addresses, i, slots + (i - 1) * slotSize, slotSize);
            }

            int received = Libc.RecvMmsg(fd, headers, (uint)(ahead + 1), 0, null);
            if (received <= 0)
            {
                datagram = default;
                return false;
            }

            _count = received;
            _next = 1;
            datagram = Describe(0);
            return true;
        }
    }

    /// <summary>Copies the oldest datagram received ahead into <paramref name="destination"/>.</summary>
    public ReceivedDatagram TakeAhead(Span<byte> destination)
    {
        int index = _next++;
        ReceivedDatagram datagram = Describe(index);
        int slotSize = (int)_vectors[index].Length;
        ReadOnlySpan<byte> data = _slots.AsSpan((index - 1) * slotSize, datagram.Length);
        if (data.Length > destination.Length)
        {
            data = data[..destination.Length];
            datagram = datagram with { Length = destination.Length, IsTruncated = true };
        }
        data.CopyTo(destination);
        return datagram;
    }

    /// <summary>The sender's sockaddr of a datagram this batch described.</summary>
    public ReadOnlySpan<byte> AddressOf(in ReceivedDatagram datagram)
        => _addresses.AsSpan(datagram.Index * SockAddr.MaxIPSize, datagram.AddressLength);

    private static void Prepare(MultipleMessageHeader* headers, IOVector* vectors, byte* addresses, int index, byte* buffer, int length)
    {
        vectors[index].Base = buffer;
        vectors[index].Length = (nuint)length;
        headers[index] = new MultipleMessageHeader
        {
            Header = new MessageHeader
            {
                Name = addresses + index * SockAddr.MaxIPSize,
                NameLength = SockAddr.MaxIPSize,
                IOVectors = vectors + index,
                IOVectorCount = 1,
            },
        };
    }

    private ReceivedDatagram Describe(int index)
    {
        ref MultipleMessageHeader header = ref _headers[index];
        return new ReceivedDatagram(
            index,
            (int)header.Length,
            (header.Header.Flags & Libc.MSG_TRUNC) != 0,
            header.Header.NameLength);
    }
}
