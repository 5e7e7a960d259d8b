using System.Collections.Concurrent;
using System.IO.Pipelines;
using MNet.Transport.Diagnostics;
using MNet.Transport.Timers;
using Microsoft.Extensions.Logging;

namespace MNet.Transport.Loop;

/// <summary>
/// One thread, one <see cref="IPoller"/>, one work queue. Descriptors registered here are serviced only on
/// this thread; other threads reach the loop through <see cref="Schedule"/>. The thread is either the loop's own
/// (<see cref="Start"/>) or a caller's that drives it with <see cref="RunOnce"/> (<see cref="AttachToCurrentThread"/>).
/// </summary>
internal sealed class EventLoop
{
    private const int MaxEventsPerWait = 256;

    private readonly IPoller _poller;
    private readonly IReadinessPoller? _readiness;
    private readonly IoUringPoller? _ioUring;
    private readonly Action<Exception> _onCompletionFailed;
    private readonly ILogger _logger;
    private readonly ConcurrentQueue<WorkItem> _work = new();
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly PollEvent[] _events = new PollEvent[MaxEventsPerWait];
    private Registration[] _registrations = new Registration[64];
    private readonly Stack<int> _freeSlots = new();
    private int _registrationCount;
    private Thread? _thread;
    private int _sleeping;
    private bool _isCallerDriven;
    private bool _isRunning;
    private volatile bool _stopRequested;
    private volatile bool _hasExited;

    public EventLoop(int id, IPoller poller, ILogger logger)
    {
        Id = id;
        _poller = poller;
        _readiness = poller as IReadinessPoller;
        _ioUring = poller as IoUringPoller;
        _logger = logger;
        _onCompletionFailed = ex => MNetTransportLog.LoopCallbackFailed(logger, id, ex);
        Scheduler = new LoopScheduler(this);
        Timers = new TimerWheel(MonotonicClock.NowTick(), logger);
        TimeProvider = new LoopTimeProvider(this);
    }

    public int Id { get; }

    /// <summary>Runs pipe continuations on this loop.</summary>
    public PipeScheduler Scheduler { get; }

    public bool IsOnLoopThread => _thread == Thread.CurrentThread;

    /// <summary>Whether the loop's poller reports descriptor readiness (epoll), so sockets can register with it.</summary>
    public bool PollsDescriptors => _readiness is not null;

    /// <summary>The loop's io_uring, for the io_uring backend's sockets to submit to. Loop thread only.</summary>
    /// <exception cref="NotSupportedException">The loop runs another backend.</exception>
    public IoUringPoller IoUring => _ioUring ?? throw new NotSupportedException("This event loop does not run the io_uring backend.");

    /// <summary>The loop's timers, fired after each poll; the poll sleeps no longer than the next needs. Loop thread only.</summary>
    public TimerWheel Timers { get; }

    /// <summary>Creates timers on <see cref="Timers"/> from any thread.</summary>
    public LoopTimeProvider TimeProvider { get; }

    /// <summary>The loop thread has ended (or the caller-driven loop was stopped); work scheduled now runs on the thread pool.</summary>
    public bool HasExited => _hasExited;

    public void Start()
    {
        _thread = new Thread(Run)
        {
            IsBackground = true,
            Name = $"MNet loop {Id}",
        };
        _thread.UnsafeStart();
    }

    /// <summary>Makes the calling thread the loop thread; it then runs the loop with <see cref="RunOnce"/>.</summary>
    public void AttachToCurrentThread()
    {
        _thread = Thread.CurrentThread;
        _isCallerDriven = true;
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutMilliseconds"/> (-1: without limit) for readiness or queued work, then
    /// handles what is ready. Only for a caller-driven loop, on its thread, never from inside itself.
    /// </summary>
    /// <returns>How many I/O events and work items were handled.</returns>
    public int RunOnce(int timeoutMilliseconds)
    {
        if (!_isCallerDriven || !IsOnLoopThread)
        {
            throw new InvalidOperationException("This event loop runs only on the thread that created it.");
        }
        ObjectDisposedException.ThrowIf(_hasExited, this);
        if (_isRunning)
        {
            throw new InvalidOperationException("RunOnce cannot be called from work that the loop is running.");
        }

        _isRunning = true;
        try
        {
            return Poll(timeoutMilliseconds);
        }
        finally
        {
            _isRunning = false;
        }
    }

    /// <summary>Queues <paramref name="action"/> to run on the loop thread. Thread-safe; never runs inline.</summary>
    public void Schedule(Action<object?> action, object? state)
    {
        _work.Enqueue(new WorkItem(action, state));
        if (_hasExited)
        {
            // The loop is gone (or leaving and may have drained the queue before this item arrived).
            MoveQueuedWorkToThreadPool();
            return;
        }
        if (Volatile.Read(ref _sleeping) == 1 && Interlocked.CompareExchange(ref _sleeping, 0, 1) == 1)
        {
            _poller.Wake();
        }
    }

    /// <summary>Registers <paramref name="fd"/> for edge-triggered events. Loop thread only.</summary>
    /// <returns>The token to pass to <see cref="Unregister"/>.</returns>
    /// <exception cref="ObjectDisposedException">The loop has exited (work scheduled late runs on the thread pool).</exception>
    /// <exception cref="NotSupportedException">The loop's backend reports no readiness.</exception>
    public ulong Register(int fd, IPollHandler handler) => Register(fd, handler, onDemand: false);

    /// <summary>
    /// Registers <paramref name="fd"/> with no events until <see cref="Arm"/> asks for one: for a descriptor whose
    /// I/O runs on the callers' threads, so the loop wakes only when they wait. Loop thread only.
    /// </summary>
    /// <returns>The token to pass to <see cref="Arm"/> and <see cref="Unregister"/>.</returns>
    /// <exception cref="ObjectDisposedException">The loop has exited.</exception>
    public ulong RegisterOnDemand(int fd, IPollHandler handler) => Register(fd, handler, onDemand: true);

    /// <summary>
    /// Keeps <paramref name="resident"/> (no descriptor: its I/O runs elsewhere) until <see cref="Unregister"/>, so that
    /// it hears <see cref="ILoopResident.OnLoopStopping"/> if the loop stops first. Loop thread only.
    /// </summary>
    /// <returns>The token to pass to <see cref="Unregister"/>.</returns>
    /// <exception cref="ObjectDisposedException">The loop has exited.</exception>
    public ulong Track(ILoopResident resident)
    {
        ObjectDisposedException.ThrowIf(_hasExited, this);
        return Claim(resident, handler: null, fd: -1).Token;
    }

    /// <summary>
    /// Asks for one <see cref="IPollHandler.OnPollEvents"/> when <paramref name="fd"/>, registered on demand, is ready
    /// for <paramref name="interest"/>; at once if it already is. Thread-safe; the caller keeps the descriptor open.
    /// </summary>
    public void Arm(int fd, ulong token, PollEvents interest) => Readiness.Arm(fd, token, interest);

    private IReadinessPoller Readiness
        => _readiness ?? throw new NotSupportedException("This event loop runs the portable backend, which does not poll descriptors.");

    private ulong Register(int fd, IPollHandler handler, bool onDemand)
    {
        ObjectDisposedException.ThrowIf(_hasExited, this);
        IReadinessPoller readiness = Readiness;
        (int slot, ulong token) = Claim(handler, handler, fd);
        try
        {
            if (onDemand)
            {
                readiness.AddOnDemand(fd, token);
            }
            else
            {
                readiness.Add(fd, token);
            }
        }
        catch
        {
            Release(slot);
            throw;
        }
        return token;
    }

    private (int Slot, ulong Token) Claim(ILoopResident resident, IPollHandler? handler, int fd)
    {
        if (!_freeSlots.TryPop(out int slot))
        {
            slot = _registrationCount++;
            if (slot == _registrations.Length)
            {
                Array.Resize(ref _registrations, slot * 2);
            }
            _registrations[slot].Generation = 1; // so 0 is never a live token and unregistering "nothing" is harmless
        }

        ref Registration registration = ref _registrations[slot];
        registration.Resident = resident;
        registration.Handler = handler;
        registration.Fd = fd;
        return (slot, ((ulong)registration.Generation << 32) | (uint)slot);
    }

    /// <summary>Forgets a registration before its descriptor is closed; a stale or zero token is ignored. Loop thread only.</summary>
    public void Unregister(ulong token)
    {
        int slot = (int)(uint)token;
        if (!_hasExited && _registrations[slot].Generation == (uint)(token >> 32) && _registrations[slot].Resident is not null)
        {
            if (_registrations[slot].Fd >= 0)
            {
                _readiness!.Remove(_registrations[slot].Fd);
            }
            Release(slot);
        }
    }

    /// <summary>
    /// Forgets a registration whose descriptor is closed already, by this thread or another (closing the last
    /// descriptor of a socket takes it out of epoll, so the number is not touched again: it may belong to a new socket
    /// by now). A stale token is ignored. Loop thread only.
    /// </summary>
    public void ForgetClosed(ulong token)
    {
        int slot = (int)(uint)token;
        if (!_hasExited && _registrations[slot].Generation == (uint)(token >> 32) && _registrations[slot].Resident is not null)
        {
            Release(slot);
        }
    }

    /// <summary>
    /// Asks the loop to release every registration and exit; completes when the thread has ended. A caller-driven
    /// loop exits at once, on its thread.
    /// </summary>
    public Task StopAsync()
    {
        _stopRequested = true;
        if (_isCallerDriven)
        {
            if (!IsOnLoopThread || _isRunning)
            {
                throw new InvalidOperationException("This event loop can only be stopped by its own thread, outside RunOnce.");
            }
            if (!_hasExited)
            {
                Exit();
            }
            return Task.CompletedTask;
        }

        _poller.Wake();
        return _thread is null ? Task.CompletedTask : _exited.Task;
    }

    private void Release(int slot)
    {
        ref Registration registration = ref _registrations[slot];
        registration.Resident = null;
        registration.Handler = null;
        registration.Fd = -1;
        registration.Generation++;
        _freeSlots.Push(slot);
    }

    private void Run()
    {
        try
        {
            while (!_stopRequested)
            {
                Poll(-1);
            }
        }
        catch (Exception ex)
        {
            MNetTransportLog.LoopFailed(_logger, Id, ex);
        }
        finally
        {
            Exit(); // also after a failure, so no registered descriptor outlives the loop
        }
    }

    private void Exit()
    {
        ReleaseAll();
        // Disposed before the queue moves to the thread pool, so no late work touches the poller while it drains:
        // what is scheduled meanwhile waits in the queue, and finds the poller closed.
        try
        {
            _poller.Dispose();
        }
        catch (Exception ex)
        {
            MNetTransportLog.LoopFailed(_logger, Id, ex);
        }
        _hasExited = true;
        Interlocked.MemoryBarrier(); // pairs with the enqueue in Schedule: one side sees the other
        MoveQueuedWorkToThreadPool();
        _exited.TrySetResult();
    }

    private int Poll(int timeoutMilliseconds)
    {
        int count = timeoutMilliseconds != 0 && _work.IsEmpty ? PollBeforeSleeping() : 0;
        if (count == 0)
        {
            Interlocked.Exchange(ref _sleeping, 1);
            int timeout = _work.IsEmpty && !_stopRequested ? timeoutMilliseconds : 0;
            if (timeout != 0 && Timers.Count > 0)
            {
                int untilTimer = MonotonicClock.MillisecondsUntil(Timers.NextTick());
                timeout = timeout < 0 ? untilTimer : Math.Min(timeout, untilTimer);
            }
            count = _poller.Wait(_events, timeout);
            Interlocked.Exchange(ref _sleeping, 0);
        }

        for (int i = 0; i < count; i++)
        {
            PollEvent ev = _events[i];
            int slot = (int)(uint)ev.Token;
            Registration registration = _registrations[slot];
            if (registration.Generation != (uint)(ev.Token >> 32) || registration.Handler is null)
            {
                continue; // closed earlier in this batch
            }

            try
            {
                registration.Handler.OnPollEvents(ev.Events);
            }
            catch (Exception ex)
            {
                MNetTransportLog.LoopCallbackFailed(_logger, Id, ex);
            }
        }

        int completed = _ioUring?.DispatchCompletions(_onCompletionFailed) ?? 0;
        int fired = Timers.Count > 0 ? Timers.RunDue(MonotonicClock.NowTick()) : 0;
        return count + completed + fired + RunQueuedWork();
    }

    /// <summary>
    /// Yields the core once and looks again without blocking: the thread the loop just handed work to often answers
    /// (a flush, the next read) within that time, and a loop that sleeps instead pays a context switch and a wake-up.
    /// </summary>
    private int PollBeforeSleeping()
    {
        _ioUring?.SubmitQueued();
        Thread.Yield();
        return _work.IsEmpty ? _poller.Wait(_events, 0) : 0;
    }

    private int RunQueuedWork()
    {
        // Bounded so work that schedules more work cannot starve I/O.
        int budget = _work.Count;
        int ran = 0;
        for (; ran < budget && _work.TryDequeue(out WorkItem item); ran++)
        {
            RunWorkItem(item);
        }
        return ran;
    }

    private void RunWorkItem(WorkItem item)
    {
        try
        {
            item.Action(item.State);
        }
        catch (Exception ex)
        {
            MNetTransportLog.LoopCallbackFailed(_logger, Id, ex);
        }
    }

    /// <summary>
    /// Runs what is queued on the thread pool once the loop thread is gone, so no continuation is stranded. A late
    /// item that fails (it touched the closed poller) is logged as on the loop, rather than ending the process.
    /// </summary>
    private void MoveQueuedWorkToThreadPool()
    {
        while (_work.TryDequeue(out WorkItem item))
        {
            ThreadPool.UnsafeQueueUserWorkItem(static late => late.Loop.RunWorkItem(late.Item), (Loop: this, Item: item), preferLocal: false);
        }
    }

    private void ReleaseAll()
    {
        for (int slot = 0; slot < _registrationCount; slot++)
        {
            ILoopResident? resident = _registrations[slot].Resident;
            if (resident is null)
            {
                continue;
            }

            try
            {
                resident.OnLoopStopping();
            }
            catch (Exception ex)
            {
                MNetTransportLog.LoopCallbackFailed(_logger, Id, ex);
            }
        }

        // Let the work the handlers queued while closing (pipe completions, continuations) run here, and on io_uring
        // the completions of the cancels they submitted, which their connections wait for before they close. Halfway,
        // whatever the kernel still holds is cancelled, so each owner hears how its operation ended.
        long cancelAt = Environment.TickCount64 + 1000, deadline = cancelAt + 1000;
        bool cancelledAll = false;
        for (int i = 0; (i < 16 || Environment.TickCount64 < deadline) && (!_work.IsEmpty || _ioUring?.HasOperationsInFlight == true); i++)
        {
            RunQueuedWork();
            if (_ioUring is not null)
            {
                if (!cancelledAll && Environment.TickCount64 >= cancelAt)
                {
                    cancelledAll = true;
                    try
                    {
                        _ioUring.CancelAll();
                    }
                    catch (Exception ex)
                    {
                        MNetTransportLog.LoopCallbackFailed(_logger, Id, ex); // the loop still exits and frees the ring
                    }
                }
                _ioUring.Wait(_events, _work.IsEmpty ? 10 : 0);
                _ioUring.DispatchCompletions(_onCompletionFailed);
            }
        }
    }

    private readonly record struct WorkItem(Action<object?> Action, object? State);

    private struct Registration
    {
        public ILoopResident? Resident;
        public IPollHandler? Handler; // null for a resident without a descriptor
        public int Fd;
        public uint Generation;
    }
}
