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

    /// <summary>
    /// The longest datagram sent as a segment of a larger one: a UDP payload that fits the smallest IPv6 link
    /// (1280 bytes less 48 of headers), so no route's MTU refuses the segments.
    /// </summary>
    internal const int MaxSegmentLength = 1232;

    private const int DefaultBufferBytes = 64 * 1024;

    // struct cmsghdr (size_t length, int level, int type) followed by the u16 segment size, padded to 8 bytes.
    private const int ControlSpace = 24;
    private const int ControlMessageLength = 18;

    // Ordinary arrays, not pinned ones: every pointer into them is taken inside Send's fixed block, and the kernel
    // is done with them when sendmmsg returns. (Pinned arrays live on the pinned heap, which only a gen2 collection
    // frees: a DNS socket's batch, made every 256 queries, kept gen2 collections coming.)
    private readonly MultipleMessageHeader[] _headers = new MultipleMessageHeader[MaxDatagrams];
    private readonly IOVector[] _vectors = new IOVector[MaxDatagrams];
    private readonly byte[] _addresses = new byte[MaxDatagrams * SockAddr.MaxIPSize];
    private readonly byte[] _controls = new byte[MaxDatagrams * ControlSpace];
    private readonly int[] _offsets = new int[MaxDatagrams];
    private readonly int[] _lengths = new int[MaxDatagrams];
    private readonly int[] _addressLengths = new int[MaxDatagrams];
    private readonly int[] _messageDatagrams = new int[MaxDatagrams];
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
        _buffer = GC.AllocateUninitializedArray<byte>(bufferBytes);
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
        _lengths[_count] = datagram.Length;
        _addressLengths[_count] = addressLength;
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
            _addressLengths[i] = SockAddr.MapIPv4ToIPv6(AddressSlot(i), _addressLengths[i]);
        }
    }

    /// <summary>
    /// One sendmmsg of what remains; returns how many datagrams went, or -1 with errno set (about the first remaining
    /// message). With <paramref name="segment"/>, a run of datagrams of one length to one destination leaves as one
    /// message the kernel cuts into them (UDP_SEGMENT): one pass through the network stack instead of one each.
    /// </summary>
    /// <param name="fd">The socket.</param>
    /// <param name="segment">Whether the socket's kernel and route take UDP_SEGMENT.</param>
    /// <param name="firstSegmented">Whether the first message carried more than one datagram, so that the caller can
    /// tell a refusal of the segments (then sent again one by one) from a refusal of the datagram.</param>
    internal int Send(int fd, bool segment, out bool firstSegmented)
    {
        int messages = 0;
        fixed (byte* buffer = _buffer)
        fixed (byte* addresses = _addresses)
        fixed (byte* controls = _controls)
        fixed (IOVector* vectors = _vectors)
        fixed (MultipleMessageHeader* headers = _headers)
        {
            for (int first = _sent; first < _count; messages++)
            {
                int run = segment ? RunLength(first) : 1;
                vectors[messages] = new IOVector { Base = buffer + _offsets[first], Length = (nuint)(_lengths[first] * run) };
                headers[messages] = new MultipleMessageHeader
                {
                    Header = new MessageHeader
                    {
                        Name = _addressLengths[first] == 0 ? null : addresses + first * SockAddr.MaxIPSize,
                        NameLength = _addressLengths[first],
                        IOVectors = vectors + messages,
                        IOVectorCount = 1,
                        Control = run == 1 ? null : WriteSegmentSize(controls + messages * ControlSpace, _lengths[first]),
                        ControlLength = run == 1 ? 0u : ControlSpace,
                    },
                };
                _messageDatagrams[messages] = run;
                first += run;
            }

            firstSegmented = _messageDatagrams[0] > 1;
            int sent = Libc.SendMmsg(fd, headers, (uint)messages, Libc.MSG_NOSIGNAL);
            if (sent <= 0)
            {
                return sent;
            }
            int datagrams = 0;
            for (int i = 0; i < sent; i++)
            {
                datagrams += _messageDatagrams[i];
            }
            _sent += datagrams;
            return datagrams;
        }
    }

    /// <summary>How many datagrams from <paramref name="first"/> on can go as segments of one message.</summary>
    private int RunLength(int first)
    {
        int length = _lengths[first];
        if (length > MaxSegmentLength || length == 0)
        {
            return 1;
        }
        int end = first + 1;
        while (end < _count && _lengths[end] == length && SameDestination(first, end))
        {
            end++;
        }
        return end - first;
    }

    private bool SameDestination(int a, int b)
        => _addressLengths[a] == _addressLengths[b] && AddressSlot(a)[.._addressLengths[a]].SequenceEqual(AddressSlot(b)[.._addressLengths[b]]);

    private static byte* WriteSegmentSize(byte* control, int segmentLength)
    {
        *(nuint*)control = ControlMessageLength;
        *(int*)(control + sizeof(nuint)) = Libc.SOL_UDP;
        *(int*)(control + sizeof(nuint) + sizeof(int)) = Libc.UDP_SEGMENT;
        *(ushort*)(control + sizeof(nuint) + 2 * sizeof(int)) = (ushort)segmentLength;
        return control;
    }

    /// <summary>The first datagram not yet sent, and its destination (null: the connected peer).</summary>
    internal (ReadOnlyMemory<byte> Datagram, IPEndPoint? Destination) PeekFirst()
    {
        int addressLength = _addressLengths[_sent];
        return (_buffer.AsMemory(_offsets[_sent], _lengths[_sent]), addressLength == 0 ? null : SockAddr.ReadIP(AddressSlot(_sent)[..addressLength]));
    }

    /// <summary>Drops the first remaining datagram, sent one at a time or refused by the kernel, so the others can go.</summary>
    internal void RemoveFirst() => _sent++;
}
