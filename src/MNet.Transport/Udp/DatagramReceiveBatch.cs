using System.Runtime.CompilerServices;
using MNet.Transport.Native;

namespace MNet.Transport.Udp;

/// <summary>
/// One recvmmsg call's worth of datagrams: the first goes straight into the caller's buffer, the rest wait in
/// internal slots until the next receives take them, so a burst costs one syscall. Every slot holds the largest
/// possible datagram, so one received ahead is judged against the buffer of the receive that takes it, like one
/// read directly. The slots are one anonymous mapping: the kernel only backs the pages datagrams were written to.
/// Not thread-safe; the owning channel serializes access, and gives it back with <see cref="Return"/>.
/// </summary>
internal sealed unsafe class DatagramReceiveBatch : IDisposable
{
    public const int MaxDatagrams = 32;

    // Above the largest UDP payload (65,507 bytes over IPv4, 65,527 over IPv6), so the kernel never cuts one here.
    private const int SlotSize = 64 * 1024;
    private const nuint MappingSize = (nuint)SlotSize * (MaxDatagrams - 1);
    // Batches kept for the next channel: short-lived channels (a resolver opens one every few hundred queries) then
    // receive into pages already mapped and faulted in rather than a fresh mapping each.
    private const int PoolCapacity = 16;

    private static readonly Stack<DatagramReceiveBatch> s_pool = new();

    private readonly MultipleMessageHeader[] _headers = GC.AllocateArray<MultipleMessageHeader>(MaxDatagrams, pinned: true);
    private readonly IOVector[] _vectors = GC.AllocateArray<IOVector>(MaxDatagrams, pinned: true);
    private readonly byte[] _addresses = GC.AllocateArray<byte>(MaxDatagrams * SockAddr.MaxIPSize, pinned: true);
    private byte* _slots;
    private int _count;
    private int _next;

    public DatagramReceiveBatch()
    {
        void* mapping = Libc.Mmap(null, MappingSize, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS, -1, 0);
        if (mapping == (void*)-1)
        {
            throw new InsufficientMemoryException($"Could not map {MappingSize} bytes for received datagrams (errno {Errno.Last}).");
        }
        _slots = (byte*)mapping;
        for (int i = 1; i < MaxDatagrams; i++)
        {
            Prepare(i, SlotOf(i), SlotSize);
        }
    }

    ~DatagramReceiveBatch() => Unmap();

    /// <summary>A batch from the pool, or a new one.</summary>
    public static DatagramReceiveBatch Rent()
    {
        lock (s_pool)
        {
            if (s_pool.TryPop(out DatagramReceiveBatch? pooled))
            {
                return pooled;
            }
        }
        return new DatagramReceiveBatch();
    }

    /// <summary>
    /// Drops the datagrams still waiting (none is ever seen by the next owner: only what its own calls receive is
    /// read) and keeps the batch for reuse, or unmaps it when the pool is full.
    /// </summary>
    public void Return()
    {
        _count = _next = 0;
        lock (s_pool)
        {
            if (s_pool.Count < PoolCapacity)
            {
                s_pool.Push(this);
                return;
            }
        }
        Dispose();
    }

    /// <summary>Whether datagrams received ahead are waiting.</summary>
    public bool HasAhead => _next < _count;

    /// <summary>
    /// Receives the next datagram into <paramref name="first"/> and whatever else is already queued (up to the
    /// batch size) into the slots. Returns false with errno set when the call failed (EAGAIN when nothing is there).
    /// </summary>
    public bool TryReceive(int fd, Span<byte> first, out ReceivedDatagram datagram)
    {
        ObjectDisposedException.ThrowIf(_slots is null, this);
        fixed (byte* firstPointer = first)
        fixed (MultipleMessageHeader* headers = _headers)
        {
            Prepare(0, firstPointer, first.Length);
            for (int i = 1; i < MaxDatagrams; i++)
            {
                headers[i].Header.NameLength = SockAddr.MaxIPSize; // an earlier call wrote a sender's length here
            }

            int received = Libc.RecvMmsg(fd, headers, MaxDatagrams, 0, null);
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

    /// <summary>Copies the oldest datagram received ahead into <paramref name="destination"/>, cut to fit and then marked truncated.</summary>
    public ReceivedDatagram TakeAhead(Span<byte> destination)
    {
        int index = _next++;
        ReceivedDatagram datagram = Describe(index);
        ReadOnlySpan<byte> data = new(SlotOf(index), datagram.Length);
        if (data.Length > destination.Length)
        {
            data = data[..destination.Length];
            datagram = datagram with { Length = destination.Length, IsTruncated = true };
        }
        data.CopyTo(destination);
        return datagram;
    }

    /// <summary>The sender's sockaddr of a datagram this batch described.</summary>
    public ReadOnlySpan<byte> AddressOf(ReceivedDatagram datagram)
        => _addresses.AsSpan(datagram.Index * SockAddr.MaxIPSize, datagram.AddressLength);

    /// <summary>Unmaps the slots; datagrams still waiting in them are dropped.</summary>
    public void Dispose()
    {
        Unmap();
        GC.SuppressFinalize(this);
    }

    private byte* SlotOf(int index) => _slots + (nuint)(index - 1) * SlotSize;

    private void Unmap()
    {
        if (_slots is not null)
        {
            Libc.Munmap(_slots, MappingSize);
            _slots = null;
            _count = _next = 0;
        }
    }

    /// <summary>Points header <paramref name="index"/> at its buffer and address slot; the arrays are pinned.</summary>
    private void Prepare(int index, byte* buffer, int length)
    {
        ref IOVector vector = ref _vectors[index];
        vector.Base = buffer;
        vector.Length = (nuint)length;
        _headers[index] = new MultipleMessageHeader
        {
            Header = new MessageHeader
            {
                Name = (byte*)Unsafe.AsPointer(ref _addresses[index * SockAddr.MaxIPSize]),
                NameLength = SockAddr.MaxIPSize,
                IOVectors = (IOVector*)Unsafe.AsPointer(ref vector),
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
