namespace MNet.Transport.Native;

/// <summary>struct msghdr: the scatter/gather description sendmsg and recvmsg take.</summary>
internal unsafe struct MessageHeader
{
    public byte* Name;
    public int NameLength;
    public IOVector* IOVectors;
    public nuint IOVectorCount;
    public byte* Control;
    public nuint ControlLength;
    public int Flags;
}
