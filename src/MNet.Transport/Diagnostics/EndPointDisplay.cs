using System.Net;
using Microsoft.AspNetCore.Connections;

namespace MNet.Transport.Diagnostics;

/// <summary>How logs name an endpoint (<see cref="FileHandleEndPoint"/> has no text of its own).</summary>
internal static class EndPointDisplay
{
    public static string Of(EndPoint endPoint)
        => endPoint is FileHandleEndPoint handle ? $"inherited socket {handle.FileHandle}" : endPoint.ToString() ?? endPoint.GetType().Name;
}
