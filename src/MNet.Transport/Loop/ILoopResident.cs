namespace MNet.Transport.Loop;

/// <summary>Something an <see cref="EventLoop"/> keeps track of and tells when it stops; called on the loop thread only.</summary>
internal interface ILoopResident
{
    /// <summary>The loop is stopping: release what is held on it now; the loop will not call again.</summary>
    void OnLoopStopping();
}
