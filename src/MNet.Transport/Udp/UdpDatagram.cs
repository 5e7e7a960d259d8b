using System.Net;

namespace MNet.Transport.Udp;

/// <summary>One datagram a UDP listener of the standalone server hands to its handler.</summary>
public readonly struct UdpDatagram
{
    private readonly UdpListener _listener;

    internal UdpDatagram(ReadOnlyMemory<byte> data, IPEndPoint remoteEndPoint, UdpListener listener)
    {
        Data = data;
        RemoteEndPoint = remoteEndPoint;
        _listener = listener;
    }

    /// <summary>The datagram's bytes; valid until the handler's task completes.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>The sender.</summary>
    public IPEndPoint RemoteEndPoint { get; }

    /// <summary>
    /// Sends <paramref name="reply"/> back to the sender. Replies are copied and gathered, then sent together (one
    /// sendmmsg) once the handler has worked through the datagrams waiting for it. Call it while the handler runs.
    /// </summary>
    public ValueTask ReplyAsync(ReadOnlyMemory<byte> reply) => _listener.ReplyAsync(reply, RemoteEndPoint);
}
