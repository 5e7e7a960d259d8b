using System.Net;
using System.Net.Sockets;

namespace MNet.Transport.Dns;

/// <summary>
/// The outcome of one lookup: addresses, or the error it ended with (<see cref="SocketError.HostNotFound"/> or
/// <see cref="SocketError.NoData"/>), and when it stops being valid (a <see cref="TimeProvider"/> timestamp).
/// </summary>
internal sealed class DnsCacheEntry
{
    private DnsCacheEntry(IReadOnlyList<IPAddress>? addresses, SocketError error, string? message, TimeSpan timeToLive)
    {
        Addresses = addresses;
        Error = error;
        Message = message;
        TimeToLive = timeToLive;
    }

    public IReadOnlyList<IPAddress>? Addresses { get; }

    public SocketError Error { get; }

    public string? Message { get; }

    public TimeSpan TimeToLive { get; }

    public long ExpiresAt { get; set; }

    public static DnsCacheEntry Found(IReadOnlyList<IPAddress> addresses, TimeSpan timeToLive) => new(addresses, SocketError.Success, null, timeToLive);

    public static DnsCacheEntry NotFound(SocketError error, string message, TimeSpan timeToLive) => new(null, error, message, timeToLive);

    /// <summary>The addresses, or the error as a <see cref="SocketException"/>; a hit on a found entry allocates nothing.</summary>
    public ValueTask<IReadOnlyList<IPAddress>> ToValueTask()
        => Addresses is not null ? new(Addresses) : ValueTask.FromException<IReadOnlyList<IPAddress>>(new SocketException((int)Error, Message));
}
