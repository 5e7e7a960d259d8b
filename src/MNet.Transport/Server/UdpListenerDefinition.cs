using System.Net;
using MNet.Transport.Udp;

namespace MNet.Transport.Server;

/// <summary>One UDP endpoint of <see cref="MNetServerOptions"/>, its datagram handler and its settings.</summary>
internal sealed record UdpListenerDefinition(IPEndPoint EndPoint, Func<UdpDatagram, ValueTask> Handler, UdpListenOptions Options);
