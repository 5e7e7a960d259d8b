namespace MNet.Transport.Loop;

/// <summary>
/// A poller that reports descriptor readiness, for loops that do the I/O themselves. On top of <see cref="IPoller"/>:
/// <list type="bullet">
/// <item><see cref="Add"/>, <see cref="AddOnDemand"/> and <see cref="Remove"/> are called on the loop thread only.</item>
/// <item><see cref="Add"/> is edge-triggered for reading, writing, peer close and errors: an event is reported when
/// readiness changes (new data, buffer space, FIN, RST), including readiness that exists at <see cref="Add"/>.</item>
/// <item><see cref="AddOnDemand"/> reports nothing until <see cref="Arm"/> asks for it, then one event as soon as
/// the descriptor is ready for what was asked (at once if it already is), then nothing until armed again. It is for
/// descriptors whose I/O runs on other threads, which want the loop only when they find nothing to do.</item>
/// <item>A descriptor that is closed is forgotten by the poller; its events may still be in a batch already returned.</item>
/// </list>
/// </summary>
internal interface IReadinessPoller : IPoller
{
    /// <summary>Registers <paramref name="fd"/>; <paramref name="token"/> comes back with each of its events.</summary>
    void Add(int fd, ulong token);

    /// <summary>Registers <paramref name="fd"/> with no interest until <see cref="Arm"/>.</summary>
    void AddOnDemand(int fd, ulong token);

    /// <summary>
    /// Asks for one event when <paramref name="fd"/>, added on demand, is ready for <paramref name="interest"/>
    /// (<see cref="PollEvents.Readable"/>, <see cref="PollEvents.Writable"/> or both), replacing an earlier request.
    /// Thread-safe; the caller keeps <paramref name="fd"/> open meanwhile.
    /// </summary>
    void Arm(int fd, ulong token, PollEvents interest);

    /// <summary>Stops reporting events for <paramref name="fd"/>.</summary>
    void Remove(int fd);
}
