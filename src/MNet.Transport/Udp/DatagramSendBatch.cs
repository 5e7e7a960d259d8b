using System.Net;
using MNet.Transport.Native;

namespace MNet.Transport.Udp;

/// <summary>
/// Datagrams gathered for one sendmmsg call, each copied in with its destination, so a handler's replies to a
/// burst leave in one syscall. Not thread-safe.
/// </summary>
internal sealed unsafe class DatagramSendBatch
{
    public const int MaxDatagrams = 32;
    private const int BufferBytes = 64 * 1024;

    private readonly MultipleMessageHeader[] _headers = GC.AllocateArray<MultipleMessageHeader>(MaxDatagrams, pinned: true);
    private readonly IOVector[] _vectors = GC.AllocateArray<IOVector>(MaxDatagrams, pinned: true);
    private readonly byte[] _addresses = GC.AllocateArray<byte>(MaxDatagrams * SockAddr.MaxIPSize, pinned: true);
    private readonly byte[] _buffer = GC.AllocateUninitializedArray<byte>(BufferBytes, pinned: true);
    private int _count;
    private int _sent;
    private int _used;

    /// <summary>Datagrams added and not yet sent (or skipped).</summary>
    public int Remaining => _count - _sent;

    /// <summary>Copies <paramref name="datagram"/> in; false when the batch has no room for it (send the batch first).</summary>
    public bool TryAdd(ReadOnlySpan<byte> datagram, IPEndPoint remoteEndPoint)
    {
        if (_count == MaxDatagrams || datagram.Length > BufferBytes - _used)
        {
            return false;
        }

        datagram.CopyTo(_buffer.AsSpan(_used));
        Span<byte> address = _addresses.AsSpan(_count * SockAddr.MaxIPSize, SockAddr.MaxIPSize);
        int addressLength = SockAddr.WriteIP(remoteEndPoint, address);
        fixed (byte* buffer = _buffer)
        fixed (byte* addresses = _addresses)
        fixed (IOVector* vectors = _vectors)
        {
            vectors[_count] = new IOVector { Base = buffer + _used, Length = (nuint)datagram.Length };
            _headers[_count] = new MultipleMessageHeader
            {
                Header = new MessageHeader
                {
                    Name = addresses + _count * SockAddr.MaxIPSize,
                    NameLength = addressLength,
                    IOVectors = vectors + _count,
                    IOVectorCount = 1,
                },
            };
        }
        _used += datagram.Length;
        _count++;
        return true;
    }

    /// <summary>One sendmmsg of what remains; returns how many went, or -1 with errno set (about the first remaining one).</summary>
    public int Send(int fd)
    {
        fixed (MultipleMessageHeader* headers = _headers)
        {
            int sent = Libc.SendMmsg(fd, headers + _sent, (uint)Remaining, Libc.MSG_NOSIGNAL);
            if (sent > 0)
            {
                _sent += sent;
            }
            return sent;
        }
    }

    /// <summary>Gives up on the first remaining datagram (the kernel refused it) so the others can still go.</summary>
    public void SkipFirst() => _sent++;

    public void Clear() => _count = _sent = _used = 0;
}
