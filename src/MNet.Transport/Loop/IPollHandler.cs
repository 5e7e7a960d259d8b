namespace MNet.Transport.Loop;

/// <summary>Owns a file descriptor registered with an <see cref="EventLoop"/>; called on the loop thread only.</summary>
internal interface IPollHandler : ILoopResident
{
    /// <summary>The descriptor became ready. Edge-triggered: called once per change, not while it stays ready.</summary>
    void OnPollEvents(PollEvents events);
}
