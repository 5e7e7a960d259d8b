using System.Runtime.InteropServices;
using MNet.Transport.Native;

namespace MNet.Transport.Loop;

/// <summary>
/// Receive buffers lent to the kernel (an io_uring provided buffer ring, group 0): a multishot receive picks one
/// when data arrives, so a connection with nothing to read holds none. The loop copies what arrived into the
/// connection's pipe and gives the buffer straight back. Loop thread only after registration.
/// </summary>
internal sealed unsafe class ProvidedBufferRing : IDisposable
{
    public const ushort Group = 0;
    private const int PageSize = 4096;

    private readonly IoUringBuffer* _ring;
    private readonly byte* _memory;
    private readonly ushort _mask;
    private ushort _tail;

    public ProvidedBufferRing(IoUringRing ring, int count, int bufferSize)
    {
        Count = count;
        BufferSize = bufferSize;
        _mask = (ushort)(count - 1);
        _ring = (IoUringBuffer*)NativeMemory.AlignedAlloc((nuint)(count * sizeof(IoUringBuffer)), PageSize);
        _memory = (byte*)NativeMemory.AlignedAlloc((nuint)count * (nuint)bufferSize, PageSize);
        NativeMemory.Clear(_ring, (nuint)(count * sizeof(IoUringBuffer)));

        BufferRegistration registration = new() { RingAddress = (ulong)_ring, RingEntries = (uint)count, Group = Group };
        if (ring.Register(IoUring.REGISTER_PBUF_RING, &registration, 1) != 0)
        {
            int errno = Errno.Last;
            NativeMemory.AlignedFree(_memory);
            NativeMemory.AlignedFree(_ring);
            throw IoUringRing.Refused("io_uring_register(IORING_REGISTER_PBUF_RING)", errno);
        }
        for (int id = 0; id < count; id++)
        {
            Return((ushort)id);
        }
    }

    public int Count { get; }

    public int BufferSize { get; }

    /// <summary>The first <paramref name="length"/> bytes of buffer <paramref name="id"/>, as the kernel filled them.</summary>
    public ReadOnlySpan<byte> Contents(ushort id, int length) => new(_memory + (nint)id * BufferSize, length);

    /// <summary>Lends buffer <paramref name="id"/> to the kernel again.</summary>
    public void Return(ushort id)
    {
        IoUringBuffer* entry = &_ring[_tail & _mask];
        entry->Address = (ulong)(_memory + (nint)id * BufferSize);
        entry->Length = (uint)BufferSize;
        entry->Id = id;
        _tail++;
        // The tail shares the first entry's reserved field (struct io_uring_buf_ring); the kernel reads it with acquire.
        Volatile.Write(ref *(ushort*)((byte*)_ring + 14), _tail);
    }

    public void Dispose()
    {
        // The ring's file descriptor is closed first (unregistering the group), so the kernel no longer holds these.
        NativeMemory.AlignedFree(_memory);
        NativeMemory.AlignedFree(_ring);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct IoUringBuffer
    {
        public ulong Address;
        public uint Length;
        public ushort Id;
        public ushort Reserved;
    }

    /// <summary>struct io_uring_buf_reg.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct BufferRegistration
    {
        public ulong RingAddress;
        public uint RingEntries;
        public ushort Group;
        public ushort Flags;
        public ulong Reserved0;
        public ulong Reserved1;
        public ulong Reserved2;
    }
}
