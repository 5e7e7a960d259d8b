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

    /// <summary>
    /// Pins <paramref name="buffer"/>'s segments and lists them for as many sends as they take, up to
    /// <see cref="MaxSends"/> of <see cref="MaxSegments"/> each (what does not fit is for the next chain).
    /// </summary>
    /// <returns>How many sends the segments make: at least one for a buffer that is not empty.</returns>
    public int Gather(in ReadOnlySequence<byte> buffer)
    {
        int send = 0;
        int count = 0;
        foreach (ReadOnlyMemory<byte> segment in buffer)
        {
            if (segment.IsEmpty)
            {
                continue;
            }
            if (count == MaxSegments)
            {
                Seal(send++, count);
                count = 0;
                if (send == MaxSends)
                {
                    return send;
                }
            }
            MemoryHandle pin = segment.Pin();
            _pins[_pinned++] = pin;
            _sends[send].Vectors[count++] = new IOVector { Base = (byte*)pin.Pointer, Length = (nuint)segment.Length };
        }
        if (count > 0)
        {
            Seal(send++, count);
        }
        return send;
    }

    /// <summary>The message of send <paramref name="send"/>, as <see cref="Gather"/> made it.</summary>
    public MessageHeader* Message(int send) => (MessageHeader*)Unsafe.AsPointer(ref _sends[send].Message);

    /// <summary>Lets go of the segments, once the kernel has.</summary>
    public void Unpin()
    {
        for (int i = 0; i < _pinned; i++)
        {
            _pins[i].Dispose();
        }
        _pinned = 0;
    }

    private void Seal(int send, int count)
    {
        ref Send entry = ref _sends[send];
        entry.Message = new MessageHeader { IOVectors = (IOVector*)Unsafe.AsPointer(ref entry.Vectors), IOVectorCount = (nuint)count };
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
