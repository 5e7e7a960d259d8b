using System.Runtime.InteropServices;
using MNet.Transport.Native;

namespace MNet.Transport.Loop;

/// <summary>An <see cref="IReadinessPoller"/> on Linux epoll with an eventfd for wake-ups.</summary>
internal sealed unsafe class EpollPoller : IReadinessPoller
{
    private const ulong WakeToken = ulong.MaxValue;
    private const uint SocketEvents = Libc.EPOLLIN | Libc.EPOLLOUT | Libc.EPOLLRDHUP | Libc.EPOLLET;

    private readonly int _epollFd;
    private readonly int _eventFd;
    private readonly int _capacity;
    private readonly EpollEvent* _events;
    private int _disposed;
    private int _activeCallers;

    public EpollPoller(int capacity = 256)
    {
        _epollFd = Libc.EpollCreate1(Libc.EPOLL_CLOEXEC);
        if (_epollFd < 0)
        {
            throw Errno.ToException(Errno.Last, "epoll_create1");
        }

        _eventFd = Libc.EventFd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        if (_eventFd < 0)
        {
            int errno = Errno.Last;
            Libc.Close(_epollFd);
            throw Errno.ToException(errno, "eventfd");
        }

        // Edge-triggered: every write to an eventfd raises a new edge, so the counter is never read back (one syscall
        // less per wake-up); it cannot overflow at one increment per wake.
        EpollEvent wake = new() { Events = Libc.EPOLLIN | Libc.EPOLLET, Data = WakeToken };
        if (Libc.EpollCtl(_epollFd, Libc.EPOLL_CTL_ADD, _eventFd, &wake) != 0)
        {
            int errno = Errno.Last;
            Libc.Close(_eventFd);
            Libc.Close(_epollFd);
            throw Errno.ToException(errno, "epoll_ctl");
        }

        _capacity = capacity;
        _events = (EpollEvent*)NativeMemory.Alloc((nuint)capacity, (nuint)sizeof(EpollEvent));
    }

    public void Add(int fd, ulong token) => Add(fd, token, SocketEvents);

    public void AddOnDemand(int fd, ulong token) => Add(fd, token, Libc.EPOLLONESHOT); // disabled until armed

    private void Add(int fd, ulong token, uint events)
    {
        // After Dispose the epoll descriptor number may belong to someone else.
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        EpollEvent ev = new() { Events = events, Data = token };
        if (Libc.EpollCtl(_epollFd, Libc.EPOLL_CTL_ADD, fd, &ev) != 0)
        {
            throw Errno.ToException(Errno.Last, "epoll_ctl");
        }
    }

    public void Arm(int fd, ulong token, PollEvents interest)
    {
        // Level-triggered one-shot: modifying checks readiness at once, so one already there is reported, not lost.
        uint events = Libc.EPOLLONESHOT
            | ((interest & PollEvents.Readable) != 0 ? Libc.EPOLLIN : 0)
            | ((interest & PollEvents.Writable) != 0 ? Libc.EPOLLOUT : 0);
        EpollEvent ev = new() { Events = events, Data = token };
        int result;
        Interlocked.Increment(ref _activeCallers);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            result = Libc.EpollCtl(_epollFd, Libc.EPOLL_CTL_MOD, fd, &ev);
        }
        finally
        {
            Interlocked.Decrement(ref _activeCallers);
        }
        if (result != 0)
        {
            throw Errno.ToException(Errno.Last, "epoll_ctl");
        }
    }

    public void Remove(int fd)
    {
        if (Volatile.Read(ref _disposed) == 0)
        {
            Libc.EpollCtl(_epollFd, Libc.EPOLL_CTL_DEL, fd, null);
        }
    }

    public int Wait(Span<PollEvent> events, int timeoutMilliseconds)
    {
        int max = Math.Min(events.Length, _capacity);
        int count = Libc.EpollWait(_epollFd, _events, max, timeoutMilliseconds);
        if (count < 0)
        {
            int errno = Errno.Last;
            return errno == Errno.EINTR ? 0 : throw Errno.ToException(errno, "epoll_wait");
        }

        int written = 0;
        for (int i = 0; i < count; i++)
        {
            EpollEvent ev = _events[i];
            if (ev.Data == WakeToken)
            {
                continue;
            }
            events[written++] = new PollEvent(ev.Data, Translate(ev.Events));
        }
        return written;
    }

    public void Wake()
    {
        // Counted so Dispose never closes the eventfd (or, for Arm, the epoll descriptor) under a caller: a closed
        // descriptor number can be reused at once, and the call would land in someone else's file.
        Interlocked.Increment(ref _activeCallers);
        if (Volatile.Read(ref _disposed) == 0)
        {
            ulong one = 1;
            Libc.Write(_eventFd, &one, sizeof(ulong));
        }
        Interlocked.Decrement(ref _activeCallers);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        SpinWait spin = default;
        while (Volatile.Read(ref _activeCallers) != 0)
        {
            spin.SpinOnce();
        }
        Libc.Close(_eventFd);
        Libc.Close(_epollFd);
        NativeMemory.Free(_events);
    }

    private static PollEvents Translate(uint events)
    {
        PollEvents result = PollEvents.None;
        if ((events & Libc.EPOLLIN) != 0)
        {
            result |= PollEvents.Readable;
        }
        if ((events & Libc.EPOLLOUT) != 0)
        {
            result |= PollEvents.Writable;
        }
        if ((events & (Libc.EPOLLRDHUP | Libc.EPOLLHUP)) != 0)
        {
            result |= PollEvents.Closed;
        }
        if ((events & Libc.EPOLLERR) != 0)
        {
            result |= PollEvents.Error;
        }
        return result;
    }
}
