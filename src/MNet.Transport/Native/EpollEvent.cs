using System.Runtime.InteropServices;

namespace MNet.Transport.Native;

/// <summary>struct epoll_event; packed on x86-64, naturally aligned elsewhere.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct EpollEvent
{
    public uint Events;
    public ulong Data;
}
