using System.Net;

namespace MNet.Transport.Tests.Infrastructure;

/// <summary>A query as the fake DNS server received it.</summary>
internal sealed record FakeDnsQuery(ushort Id, string Name, ushort Type, bool OverTcp, IPEndPoint From);
