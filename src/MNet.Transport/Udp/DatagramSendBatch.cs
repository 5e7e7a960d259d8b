using System.Net;
using System.Net.Sockets;
using MNet.Transport.Native;

namespace MNet.Transport.Udp;

/// <summary>
/// Datagrams gathered to leave in one sendmmsg call through <see cref="UdpChannel.SendBatchAsync"/>: each is
/// copied in with its destination, so the caller's buffers are free again at once. Reuse one batch; it holds up to
/// <see cref="MaxDatagrams"/> datagrams and 64 KiB. Not thread-safe.
/// </summary>
public sealed unsafe class DatagramSendBatch
{
    /// <summary>The most datagrams one batch holds.</summary>
    public const int MaxDatagrams = 32;

    private const int DefaultBufferBytes = 64 * 1024;

    private readonly MultipleMessageHeader[] _headers = GC.AllocateArray<MultipleMessageHeader>(MaxDatagrams, pinned: true);
    private readonly IOVector[] _vectors = GC.AllocateArray<IOVector>(MaxDatagrams, pinned: true);
    private readonly byte[] _addresses = GC.AllocateArray<byte>(MaxDatagrams * SockAddr.MaxIPSize, pinned: true);
    private readonly int[] _offsets = new int[MaxDatagrams];
    private readonly byte[] _buffer;
    private int _count;
    private int _sent;
    private int _used;

    /// <summary>Creates an empty batch.</summary>
    public DatagramSendBatch()
        : this(DefaultBufferBytes)
    {
    }

    /// <param name="bufferBytes">Room for the datagrams' bytes: less for a sender whose datagrams are all small.</param>
    internal DatagramSendBatch(int bufferBytes)
    {
        _buffer = GC.AllocateUninitializedArray<byte>(bufferBytes, pinned: true);
    }

    /// <summary>Datagrams added and not yet sent.</summary>
    public int Count => _count - _sent;

    /// <summary>Copies <paramref name="datagram"/> in, addressed to <paramref name="remoteEndPoint"/>.</summary>
    /// <returns>False when the batch has no room for it: send the batch, then add it again.</returns>
    /// <exception cref="ArgumentException"><paramref name="remoteEndPoint"/> is not an IPv4 or IPv6 endpoint.</exception>
    public bool TryAdd(ReadOnlySpan<byte> datagram, IPEndPoint remoteEndPoint)
    {
        ArgumentNullException.ThrowIfNull(remoteEndPoint);
        if (remoteEndPoint.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
        {
            throw new ArgumentException($"A datagram goes to an IPv4 or IPv6 address, not {remoteEndPoint.AddressFamily}.", nameof(remoteEndPoint));
        }
        if (!HasRoom(datagram))
        {
            return false;
        }
        Add(datagram, SockAddr.WriteIP(remoteEndPoint, AddressSlot(_count)));
        return true;
    }

    /// <summary>
    /// Copies <paramref name="datagram"/> in, addressed to the peer the channel sending the batch is connected to
    /// (<see cref="UdpChannel.Connect"/>); the kernel then reuses the connection's route instead of looking one up
    /// for each datagram.
    /// </summary>
    /// <returns>False when the batch has no room for it: send the batch, then add it again.</returns>
    public bool TryAdd(ReadOnlySpan<byte> datagram)
    {
        if (!HasRoom(datagram))
        {
            return false;
        }
        Add(datagram, addressLength: 0);
        return true;
    }

    private bool HasRoom(ReadOnlySpan<byte> datagram) => _count < MaxDatagrams && datagram.Length <= _buffer.Length - _used;

    private Span<byte> AddressSlot(int index) => _addresses.AsSpan(index * SockAddr.MaxIPSize, SockAddr.MaxIPSize);

    private void Add(ReadOnlySpan<byte> datagram, int addressLength)
    {
        datagram.CopyTo(_buffer.AsSpan(_used));
        _offsets[_count] = _used;
        fixed (byte* buffer = _buffer)
        fixed (byte* addresses = _addresses)
        fixed (IOVector* vectors = _vectors)
        {
            vectors[_count] = new IOVector { Base = buffer + _used, Length = (nuint)datagram.Length };
            _headers[_count] = new MultipleMessageHeader
            {
                Header = new MessageHeader
                {
                    Name = addressLength == 0 ? null : addresses + _count * SockAddr.MaxIPSize,
                    NameLength = addressLength,
                    IOVectors = vectors + _count,
                    IOVectorCount = 1,
                },
            };
        }
        _used += datagram.Length;
        _count++;
    }

    /// <summary>Drops every datagram not yet sent.</summary>
    public void Clear() => _count = _sent = _used = 0;

    /// <summary>Addresses IPv4 destinations as IPv4-mapped IPv6, the form a dual-stack socket takes.</summary>
    internal void MapIPv4ToIPv6()
    {
        for (int i = _sent; i < _count; i++)
        {
            ref MessageHeader header = ref _headers[i].Header;
            header.NameLength = SockAddr.MapIPv4ToIPv6(AddressSlot(i), header.NameLength);
        }
    }

    /// <summary>One sendmmsg of what remains; returns how many went, or -1 with errno set (about the first remaining one).</summary>
    internal int Send(int fd)
    {
        fixed (MultipleMessageHeader* headers = _headers)
        {
            int sent = Libc.SendMmsg(fd, headers + _sent, (uint)Count, Libc.MSG_NOSIGNAL);
            if (sent > 0)
            {
                _sent += sent;
            }
            return sent;
        }
    }

    /// <summary>The first datagram not yet sent, and its destination (null: the connected peer).</summary>
    internal (ReadOnlyMemory<byte> Datagram, IPEndPoint? Destination) PeekFirst()
    {
        int length = (int)_vectors[_sent].Length;
        int addressLength = _headers[_sent].Header.NameLength;
        return (_buffer.AsMemory(_offsets[_sent], length), addressLength == 0 ? null : SockAddr.ReadIP(AddressSlot(_sent)[..addressLength]));
    }

    /// <summary>Drops the first remaining datagram, sent one at a time or refused by the kernel, so the others can go.</summary>
    internal void RemoveFirst() => _sent++;
}
