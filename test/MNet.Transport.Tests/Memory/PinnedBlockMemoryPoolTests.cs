using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MNet.Transport.Memory;

namespace MNet.Transport.Tests.Memory;

public sealed class PinnedBlockMemoryPoolTests
{
    [Fact]
    public void RentedBlocks_AreDistinctAndPinned_AndReturnedBlocksAreReused()
    {
        using PinnedBlockMemoryPool pool = new();
        List<IMemoryOwner<byte>> owners = Enumerable.Range(0, 96).Select(_ => pool.Rent()).ToList(); // three whole slabs

        List<nint> addresses = owners.Select(AddressOf).ToList();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);

        Assert.All(owners, owner => Assert.Equal(PinnedBlockMemoryPool.BlockSize, owner.Memory.Length));
        Assert.Equal(addresses, owners.Select(AddressOf));
        Assert.Equal(addresses.Count, addresses.Distinct().Count());
        owners.Select((owner, i) => (owner, i)).ToList().ForEach(x => x.owner.Memory.Span.Fill((byte)x.i));
        for (int i = 0; i < owners.Count; i++)
        {
            Assert.All(owners[i].Memory.ToArray(), b => Assert.Equal((byte)i, b));
        }

        owners.ForEach(owner => owner.Dispose());
        List<IMemoryOwner<byte>> again = Enumerable.Range(0, owners.Count).Select(_ => pool.Rent()).ToList();
        Assert.Equal(addresses.Order(), again.Select(AddressOf).Order()); // the same memory, no new slab
    }

    private static unsafe nint AddressOf(IMemoryOwner<byte> owner)
    {
        using MemoryHandle handle = owner.Memory.Pin();
        Assert.Equal((nint)handle.Pointer, (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(owner.Memory.Span)));
        return (nint)handle.Pointer;
    }

    [Fact]
    public void ReturningABlockTwice_Throws_AndTheBlockIsHandedOutOnce()
    {
        using PinnedBlockMemoryPool pool = new();
        IMemoryOwner<byte> block = pool.Rent();
        block.Dispose();

        Assert.Throws<InvalidOperationException>(block.Dispose);
        IMemoryOwner<byte> first = pool.Rent();
        IMemoryOwner<byte> second = pool.Rent();
        Assert.NotSame(first, second);
    }

    [Fact]
    public void RentLargerThanABlock_IsRejected_AndRentAfterDispose_Throws()
    {
        PinnedBlockMemoryPool pool = new();
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(PinnedBlockMemoryPool.BlockSize + 1));
        IMemoryOwner<byte> outstanding = pool.Rent(PinnedBlockMemoryPool.BlockSize);

        pool.Dispose();

        Assert.Throws<ObjectDisposedException>(() => pool.Rent());
        outstanding.Dispose(); // a block coming back after the pool is gone is dropped, not an error
    }
}
