namespace MNet.Transport.Native;

/// <summary>struct mmsghdr: one datagram of a recvmmsg/sendmmsg batch and the byte count the kernel reports for it.</summary>
internal struct MultipleMessageHeader
{
    public MessageHeader Header;
    public uint Length;
}
