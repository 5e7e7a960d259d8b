using System.Runtime.InteropServices;

namespace MNet.Transport.Native;

/// <summary>struct io_uring_cqe (16 bytes): one completion.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly struct IoUringCqe
{
    public readonly ulong UserData;
    public readonly int Result;
    public readonly uint Flags;
}
