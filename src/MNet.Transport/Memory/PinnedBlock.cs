using System.Buffers;
using System.Runtime.CompilerServices;

namespace MNet.Transport.Memory;

/// <summary>
/// One block of a <see cref="PinnedBlockMemoryPool"/> slab. The slab lives on the pinned object heap, so
/// <see cref="Pin"/> hands out a raw pointer with no GC handle; disposing returns the block to its pool.
/// </summary>
internal sealed unsafe class PinnedBlock : MemoryManager<byte>
{
    private readonly PinnedBlockMemoryPool _pool;
    private readonly byte[] _slab;
    private readonly int _offset;
    private readonly byte* _pointer;
    private int _rented;

    public PinnedBlock(PinnedBlockMemoryPool pool, byte[] slab, int offset)
    {
        _pool = pool;
        _slab = slab;
        _offset = offset;
        _pointer = (byte*)Unsafe.AsPointer(ref slab[offset]);
    }

    public override Span<byte> GetSpan() => new(_slab, _offset, PinnedBlockMemoryPool.BlockSize);

    public override MemoryHandle Pin(int elementIndex = 0) => new(_pointer + elementIndex);

    public override void Unpin()
    {
    }

    protected override bool TryGetArray(out ArraySegment<byte> segment)
    {
        segment = new ArraySegment<byte>(_slab, _offset, PinnedBlockMemoryPool.BlockSize);
        return true;
    }

    /// <summary>Marks the block as handed out by its pool.</summary>
    internal void OnRented() => _rented = 1;

    protected override void Dispose(bool disposing)
    {
        // A second return would put the block in the pool twice and hand one buffer to two owners.
        if (Interlocked.Exchange(ref _rented, 0) == 0)
        {
            throw new InvalidOperationException("The memory block was already returned to its pool.");
        }
        _pool.Return(this);
    }
}
