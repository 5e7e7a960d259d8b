using System.Runtime.InteropServices;

namespace MNet.Transport.Native;

/// <summary>struct io_uring_rsrc_register: a table of registered files (or buffers) to create, here empty (sparse).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoUringResourceRegistration
{
    public uint Count;
    public uint Flags;
    public ulong Reserved;
    public ulong Data;
    public ulong Tags;
}
