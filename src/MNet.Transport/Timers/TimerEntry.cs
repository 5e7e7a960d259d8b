namespace MNet.Transport.Timers;

/// <summary>A node of a <see cref="TimerWheel"/>'s slot lists; the wheel links it in and out without allocating.</summary>
internal abstract class TimerEntry
{
    internal TimerEntry? Previous;
    internal TimerEntry? Next;

    /// <summary>The wheel slot the entry is linked into, or -1 while it is not scheduled.</summary>
    internal int Slot = -1;

    /// <summary>The millisecond tick the entry is due at: it fires on the first pass at or after it.</summary>
    internal long DueTick;

    public bool IsScheduled => Slot >= 0;

    /// <summary>Runs on the loop thread when the entry is due; it is unscheduled by then and may schedule itself again.</summary>
    protected internal abstract void Fire();
}
