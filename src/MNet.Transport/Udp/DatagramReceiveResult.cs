using System.Net;

namespace MNet.Transport.Udp;

/// <summary>The outcome of <see cref="UdpChannel.ReceiveAsync"/>: one whole datagram, or its first part if the buffer was too small.</summary>
/// <param name="ReceivedBytes">The bytes written to the buffer.</param>
/// <param name="RemoteEndPoint">The sender.</param>
/// <param name="IsTruncated">
/// The datagram was longer than the buffer: only <paramref name="ReceivedBytes"/> of it arrived and the rest is gone.
/// </param>
public readonly record struct DatagramReceiveResult(int ReceivedBytes, IPEndPoint RemoteEndPoint, bool IsTruncated);
