using System.Runtime.InteropServices;

namespace MNet.Transport.Native;

/// <summary>
/// struct io_sqring_offsets / io_cqring_offsets: byte offsets into a ring's mapping. The two share one layout; the
/// fifth and sixth fields are flags and dropped for the submission ring, overflow and cqes for the completion ring.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoUringRingOffsets
{
    public uint Head;
    public uint Tail;
    public uint RingMask;
    public uint RingEntries;
    public uint Field4; // SQ: flags;   CQ: overflow
    public uint Field5; // SQ: dropped; CQ: cqes
    public uint Field6; // SQ: array;   CQ: flags
    public uint Reserved;
    public ulong UserAddress;
}
