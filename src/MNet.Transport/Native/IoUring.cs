using System.Runtime.InteropServices;

namespace MNet.Transport.Native;

/// <summary>The io_uring system calls (no liburing) and the constants of the operations the transport submits.</summary>
internal static unsafe partial class IoUring
{
    public const uint SETUP_CQSIZE = 0x8;
    public const uint SETUP_R_DISABLED = 0x40;
    public const uint SETUP_SUBMIT_ALL = 0x80;
    public const uint SETUP_TASKRUN_FLAG = 0x200;
    public const uint SETUP_SINGLE_ISSUER = 0x1000;
    public const uint SETUP_DEFER_TASKRUN = 0x2000;

    public const uint FEAT_SINGLE_MMAP = 0x1;
    public const uint FEAT_NODROP = 0x2;
    public const uint FEAT_EXT_ARG = 0x100;

    public const uint SQ_TASKRUN = 0x4;

    public const uint ENTER_GETEVENTS = 0x1;
    public const uint ENTER_EXT_ARG = 0x8;

    public const uint REGISTER_ENABLE_RINGS = 12;
    public const uint REGISTER_FILES2 = 13;
    public const uint REGISTER_PBUF_RING = 22;

    public const long OFF_SQ_RING = 0;
    public const long OFF_SQES = 0x10000000;

    public const byte OP_POLL_ADD = 6;
    public const byte OP_SENDMSG = 9;
    public const byte OP_ACCEPT = 13;
    public const byte OP_ASYNC_CANCEL = 14;
    public const byte OP_CONNECT = 16;
    public const byte OP_FILES_UPDATE = 20;
    public const byte OP_READ = 22;
    public const byte OP_SEND = 26;
    public const byte OP_RECV = 27;

    public const byte SQE_FIXED_FILE = 0x1;
    public const byte SQE_IO_LINK = 0x4;
    public const byte SQE_BUFFER_SELECT = 0x20;

    public const uint RSRC_REGISTER_SPARSE = 0x1;

    public const uint ASYNC_CANCEL_ALL = 0x1;
    public const uint ASYNC_CANCEL_ANY = 0x4;

    public const ushort RECV_MULTISHOT = 0x2;
    public const ushort ACCEPT_MULTISHOT = 0x1;

    public const uint CQE_F_BUFFER = 0x1;
    public const uint CQE_F_MORE = 0x2;
    public const int CQE_BUFFER_SHIFT = 16;

    private const int SYS_io_uring_setup = 425;
    private const int SYS_io_uring_enter = 426;
    private const int SYS_io_uring_register = 427;

    public static int Setup(uint entries, IoUringParams* parameters) => (int)Syscall(SYS_io_uring_setup, (nint)entries, (nint)parameters);

    public static int Enter(int fd, uint toSubmit, uint minComplete, uint flags, void* argument, nuint argumentSize)
        => (int)Syscall(SYS_io_uring_enter, fd, (nint)toSubmit, (nint)minComplete, (nint)flags, (nint)argument, (nint)argumentSize);

    public static int Register(int fd, uint opcode, void* argument, uint count)
        => (int)Syscall(SYS_io_uring_register, fd, (nint)opcode, (nint)argument, (nint)count);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial nint Syscall(nint number, nint a1, nint a2);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial nint Syscall(nint number, nint a1, nint a2, nint a3, nint a4);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial nint Syscall(nint number, nint a1, nint a2, nint a3, nint a4, nint a5, nint a6);
}
