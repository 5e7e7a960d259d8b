using System.Net;
using Microsoft.AspNetCore.Connections;

namespace MNet.Transport.Server;

/// <summary>One endpoint of <see cref="MNetServerOptions"/> and the code that builds its pipeline.</summary>
internal sealed record ListenerDefinition(EndPoint EndPoint, Action<IConnectionBuilder> Configure);
