namespace MNet.Transport.Loop;

/// <summary>
/// What one <see cref="EventLoop"/> sleeps on: every backend's contract. The loop calls <see cref="Wait"/> when it has
/// nothing to run; it returns when descriptors become ready (a readiness backend, <see cref="IReadinessPoller"/>),
/// when the time is up, or when another thread calls <see cref="Wake"/>, which is how completions of a completion
/// backend (work posted with <see cref="EventLoop.Schedule"/>) reach the loop.
/// <list type="bullet">
/// <item><see cref="Wait"/> is called on the loop thread only, never concurrently with itself.</item>
/// <item><see cref="Wake"/> may be called from any thread, any number of times; it makes a current or the next
/// <see cref="Wait"/> return. Wake-ups coalesce and are not reported as events.</item>
/// <item><see cref="IDisposable.Dispose"/> runs on the loop thread after its last <see cref="Wait"/>; a
/// <see cref="Wake"/> racing with it is harmless.</item>
/// </list>
/// </summary>
internal interface IPoller : IDisposable
{
    /// <summary>Waits up to <paramref name="timeoutMilliseconds"/> (-1: no limit, 0: poll) and fills <paramref name="events"/>.</summary>
    /// <returns>The number of events written; 0 after a time-out or a wake-up.</returns>
    int Wait(Span<PollEvent> events, int timeoutMilliseconds);

    /// <summary>Makes <see cref="Wait"/> return soon. Thread-safe.</summary>
    void Wake();
}
