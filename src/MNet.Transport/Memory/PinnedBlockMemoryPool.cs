using System.Buffers;
using System.Collections.Concurrent;

namespace MNet.Transport.Memory;

/// <summary>
/// A <see cref="MemoryPool{T}"/> of fixed-size <see cref="PinnedBlock"/>s carved from slabs on the pinned object
/// heap, so native calls take their address without pinning and without fragmenting the GC heap. Thread-safe.
/// </summary>
internal sealed class PinnedBlockMemoryPool : MemoryPool<byte>
{
    public const int BlockSize = 4096;
    private const int BlocksPerSlab = 32;

    private readonly ConcurrentQueue<PinnedBlock> _blocks = new();
    private volatile bool _disposed;

    public override int MaxBufferSize => BlockSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        ObjectDisposedException.ThrowIf(_disposed, this);

        PinnedBlock block = _blocks.TryDequeue(out PinnedBlock? pooled) ? pooled : AllocateSlab();
        block.OnRented();
        return block;
    }

    internal void Return(PinnedBlock block)
    {
        if (!_disposed)
        {
            _blocks.Enqueue(block);
        }
    }

    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        _blocks.Clear();
    }

    private PinnedBlock AllocateSlab()
    {
        byte[] slab = GC.AllocateUninitializedArray<byte>(BlockSize * BlocksPerSlab, pinned: true);
        for (int i = 1; i < BlocksPerSlab; i++)
        {
            _blocks.Enqueue(new PinnedBlock(this, slab, i * BlockSize));
        }
        return new PinnedBlock(this, slab, 0);
    }
}
