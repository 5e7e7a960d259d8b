using System.Numerics;
using MNet.Transport.Diagnostics;
using Microsoft.Extensions.Logging;

namespace MNet.Transport.Timers;

/// <summary>
/// A hierarchical timing wheel of millisecond ticks: six levels of 64 slots, level L's slots spanning 64^L ticks,
/// so scheduling and cancelling are O(1) and an entry is moved down at most five times before it fires. A bit mask
/// of occupied slots per level gives the next tick that needs work in O(levels), which is what the loop sleeps
/// until. Entries fire on the first pass at or after their tick, never before. Loop thread only.
/// </summary>
internal sealed class TimerWheel
{
    private const int SlotBits = 6;
    private const int SlotsPerLevel = 1 << SlotBits;
    private const int SlotMask = SlotsPerLevel - 1;
    private const int Levels = 6;

    /// <summary>Farther than this (about 2.2 years) an entry waits at the top level and is placed again when it comes round.</summary>
    private const long MaxSpan = (1L << (SlotBits * Levels)) - 1;

    private readonly TimerEntry?[] _heads = new TimerEntry?[Levels * SlotsPerLevel];
    private readonly ulong[] _occupied = new ulong[Levels];
    private readonly ILogger _logger;
    private long _current;

    /// <param name="nowTick">The current tick: every entry is due after it.</param>
    /// <param name="logger">Where a callback that throws is reported.</param>
    public TimerWheel(long nowTick, ILogger logger)
    {
        _current = nowTick;
        _logger = logger;
    }

    /// <summary>Scheduled entries.</summary>
    public int Count { get; private set; }

    /// <summary>Schedules <paramref name="entry"/> for <paramref name="dueTick"/> (moving it if it was scheduled); a tick already passed means the next pass.</summary>
    public void Schedule(TimerEntry entry, long dueTick)
    {
        if (entry.IsScheduled)
        {
            Cancel(entry);
        }
        entry.DueTick = dueTick;
        Insert(entry, minimumDelta: 1);
        Count++;
    }

    /// <summary>Unschedules <paramref name="entry"/>; nothing happens if it is not scheduled.</summary>
    public void Cancel(TimerEntry entry)
    {
        if (!entry.IsScheduled)
        {
            return;
        }
        Unlink(entry);
        Count--;
    }

    /// <summary>The next tick at which <see cref="RunDue"/> has work (an entry to fire or to move down), or <see cref="long.MaxValue"/>.</summary>
    public long NextTick()
    {
        long next = long.MaxValue;
        for (int level = 0; level < Levels; level++)
        {
            ulong occupied = _occupied[level];
            if (occupied == 0)
            {
                continue;
            }
            // Slots hold the 64 spans after the current one, in circular order starting at the slot after it.
            int shift = level * SlotBits;
            long span = _current >> shift;
            int offset = BitOperations.TrailingZeroCount(BitOperations.RotateRight(occupied, (int)((span + 1) & SlotMask)));
            next = Math.Min(next, (span + 1 + offset) << shift);
        }
        return next;
    }

    /// <summary>Fires, in tick order, every entry due at or before <paramref name="nowTick"/>.</summary>
    /// <returns>How many fired.</returns>
    public int RunDue(long nowTick)
    {
        int fired = 0;
        long tick;
        while (Count > 0 && (tick = NextTick()) <= nowTick)
        {
            fired += RunTick(tick);
        }
        _current = Math.Max(_current, nowTick);
        return fired;
    }

    private int RunTick(long tick)
    {
        // Entries of a higher-level slot starting at this tick move down: those due now into this tick's level-0
        // slot, the rest into slots of later ticks.
        _current = tick;
        for (int level = 1; level < Levels; level++)
        {
            int shift = level * SlotBits;
            if ((tick & ((1L << shift) - 1)) == 0)
            {
                MoveDown(level, (int)((tick >> shift) & SlotMask));
            }
        }

        // Entries scheduled by the callbacks below are due after this tick, so this slot only empties.
        int slot = (int)(tick & SlotMask);
        int fired = 0;
        while (_heads[slot] is { } entry)
        {
            Unlink(entry);
            Count--;
            fired++;
            try
            {
                entry.Fire();
            }
            catch (Exception ex)
            {
                MNetTransportLog.TimerCallbackFailed(_logger, ex);
            }
        }
        return fired;
    }

    private void MoveDown(int level, int slotInLevel)
    {
        int slot = level * SlotsPerLevel + slotInLevel;
        while (_heads[slot] is { } entry)
        {
            Unlink(entry);
            Insert(entry, minimumDelta: 0);
        }
    }

    /// <summary>
    /// Links <paramref name="entry"/> into the level whose slots cover its distance from the current tick: within 64
    /// spans of that level, so its slot comes round exactly when its span begins. A distance of 0 (only when moving
    /// down) is the current tick's level-0 slot, about to fire.
    /// </summary>
    private void Insert(TimerEntry entry, long minimumDelta)
    {
        long delta = Math.Clamp(entry.DueTick - _current, minimumDelta, MaxSpan);
        long placeTick = _current + delta;
        int level = delta == 0 ? 0 : (63 - BitOperations.LeadingZeroCount((ulong)delta)) / SlotBits;
        int slotInLevel = (int)((placeTick >> (level * SlotBits)) & SlotMask);
        int slot = level * SlotsPerLevel + slotInLevel;

        TimerEntry? head = _heads[slot];
        entry.Previous = null;
        entry.Next = head;
        if (head is not null)
        {
            head.Previous = entry;
        }
        _heads[slot] = entry;
        entry.Slot = slot;
        _occupied[level] |= 1UL << slotInLevel;
    }

    private void Unlink(TimerEntry entry)
    {
        int slot = entry.Slot;
        if (entry.Previous is { } previous)
        {
            previous.Next = entry.Next;
        }
        else
        {
            _heads[slot] = entry.Next;
            if (entry.Next is null)
            {
                _occupied[slot / SlotsPerLevel] &= ~(1UL << (slot % SlotsPerLevel));
            }
        }
        if (entry.Next is { } next)
        {
            next.Previous = entry.Previous;
        }
        entry.Previous = null;
        entry.Next = null;
        entry.Slot = -1;
    }
}
