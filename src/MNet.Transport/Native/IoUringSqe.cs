using System.Runtime.InteropServices;

namespace MNet.Transport.Native;

/// <summary>struct io_uring_sqe (64 bytes): one submission; the fields the transport's operations use.</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
internal struct IoUringSqe
{
    [FieldOffset(0)] public byte Opcode;
    [FieldOffset(1)] public byte Flags;
    [FieldOffset(2)] public ushort IoPriority;   // IORING_RECV_MULTISHOT, IORING_ACCEPT_MULTISHOT
    [FieldOffset(4)] public int Fd;
    [FieldOffset(8)] public ulong Offset;        // also addr2: the address length pointer of accept
    [FieldOffset(16)] public ulong Address;
    [FieldOffset(24)] public uint Length;
    [FieldOffset(28)] public uint OperationFlags; // msg_flags, accept_flags, cancel_flags
    [FieldOffset(32)] public ulong UserData;
    [FieldOffset(40)] public ushort BufferGroup;
    [FieldOffset(44)] public int FileIndex;
    [FieldOffset(48)] public ulong Address3;
    [FieldOffset(56)] public ulong Padding;
}
