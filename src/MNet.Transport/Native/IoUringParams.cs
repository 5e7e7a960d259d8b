using System.Runtime.InteropServices;

namespace MNet.Transport.Native;

/// <summary>struct io_uring_params: what io_uring_setup is asked for, and the ring layout it answers with.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoUringParams
{
    public uint SqEntries;
    public uint CqEntries;
    public uint Flags;
    public uint SqThreadCpu;
    public uint SqThreadIdle;
    public uint Features;
    public uint WqFd;
    public uint Reserved0;
    public ulong Reserved1;
    public IoUringRingOffsets SqOffsets; // struct io_sqring_offsets
    public IoUringRingOffsets CqOffsets; // struct io_cqring_offsets (overflow and cqes where the SQ has dropped and array)
}
