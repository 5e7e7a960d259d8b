using System.Net;

namespace MNet.Transport.Udp;

/// <summary>A received datagram waiting for a <see cref="UdpListener"/>'s handler, in a buffer rented from the shared array pool.</summary>
internal readonly record struct QueuedDatagram(byte[] Buffer, int Length, IPEndPoint RemoteEndPoint);
