namespace MNet.Transport.Native;

/// <summary>struct iovec: one segment of a readv/writev call.</summary>
internal unsafe struct IOVector
{
    public byte* Base;
    public nuint Length;
}
