namespace MNet.Transport.Loop;

/// <summary>Readiness reported by an <see cref="IPoller"/>.</summary>
[Flags]
internal enum PollEvents
{
    None = 0,
    Readable = 1,
    Writable = 2,

    /// <summary>The peer shut down its sending side or the connection hung up; reads drain what is left, then see EOF.</summary>
    Closed = 4,

    /// <summary>An error is pending on the socket; the next call on it reports it.</summary>
    Error = 8,
}
