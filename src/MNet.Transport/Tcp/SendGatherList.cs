using System.Buffers;
using System.Runtime.CompilerServices;
using MNet.Transport.Native;

namespace MNet.Transport.Tcp;

/// <summary>
/// What the kernel reads while an io_uring send of several segments is in flight: a message header and gather list
/// for each send of the linked chain, on the pinned object heap because the kernel may read them after submission,
/// and the pins of the segments they point at. A connection holds one only while such a send is in flight
/// (<see cref="SendStatePool{T}"/>). Not thread-safe.
/// </summary>
internal sealed unsafe class SendGatherList
{
    /// <summary>Segments one send gathers.</summary>
    public const int MaxSegments = 64;

    /// <summary>Sends one chain links.</summary>
    public const int MaxSends = 4;

    private readonly Send[] _sends = GC.AllocateArray<Send>(MaxSends, pinned: true);
    private readonly MemoryHandle[] _pins = new MemoryHandle[MaxSends * MaxSegments];
    private int _pinned;

    /// <summary>Pins <paramref name="segment"/> as entry <paramref name="index"/> of send <paramref name="send"/>'s gather list.</summary>
    public void Add(int send, int index, ReadOnlyMemory<byte> segment)
    {
        MemoryHandle pin = segment.Pin();
        _pins[_pinned++] = pin;
        _sends[send].Vectors[index] = new IOVector { Base = (byte*)pin.Pointer, Length = (nuint)segment.Length };
    }

    /// <summary>The message of send <paramref name="send"/>, gathering its first <paramref name="count"/> entries.</summary>
    public MessageHeader* Message(int send, int count)
    {
        ref Send entry = ref _sends[send];
        entry.Message = new MessageHeader { IOVectors = (IOVector*)Unsafe.AsPointer(ref entry.Vectors), IOVectorCount = (nuint)count };
        return (MessageHeader*)Unsafe.AsPointer(ref entry.Message);
    }

    /// <summary>Lets go of the segments, once the kernel has.</summary>
    public void Unpin()
    {
        for (int i = 0; i < _pinned; i++)
        {
            _pins[i].Dispose();
        }
        _pinned = 0;
    }

    private struct Send
    {
        public MessageHeader Message;
        public IOVectorArray Vectors;
    }

    [InlineArray(MaxSegments)]
    private struct IOVectorArray
    {
        private IOVector _element;
    }
}
