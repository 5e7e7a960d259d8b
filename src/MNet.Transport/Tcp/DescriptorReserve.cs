using MNet.Transport.Native;

namespace MNet.Transport.Tcp;

/// <summary>
/// Descriptors the process holds back from accepting. A process that accepts up to its descriptor limit leaves the
/// runtime none: it then cannot start a thread, and dies ("Out of memory."). So accepting runs only while this
/// reserve is held; out of descriptors, the reserve is given up for the rest of the process to use, and accepting
/// resumes once the whole reserve can be taken again. It is held while any listening socket is open.
/// </summary>
internal static class DescriptorReserve
{
    private const int Size = 16;
    private static readonly Lock s_lock = new();
    private static readonly int[] s_descriptors = new int[Size];
    private static int s_held;
    private static int s_acceptors;
    private static readonly int s_limit = (int)Math.Min(Libc.DescriptorLimit() ?? int.MaxValue, int.MaxValue);

    /// <summary>
    /// Whether descriptor <paramref name="fd"/>, just made, shows fewer than <paramref name="headroom"/> descriptors
    /// left: they are numbered lowest free first, so every one below it was taken.
    /// </summary>
    public static bool IsWithin(int fd, int headroom) => fd >= s_limit - headroom;

    /// <summary>
    /// Whether descriptor <paramref name="fd"/>, just made, shows at least twice <paramref name="headroom"/> left
    /// (and half the limit free): far enough from <see cref="IsWithin"/> that the two do not take turns.
    /// </summary>
    public static bool IsFarFrom(int fd, int headroom) => fd < Math.Min(s_limit / 2, s_limit - 2 * headroom);

    /// <summary>The descriptor the process would be given next, the lowest free one (the limit if none is).</summary>
    public static int LowestFree()
    {
        int fd = Libc.EventFd(0, Libc.EFD_CLOEXEC);
        if (fd < 0)
        {
            return s_limit;
        }
        Libc.Close(fd);
        return fd;
    }

    /// <summary>An acceptor starts: the reserve is taken if it can be.</summary>
    public static void AddAcceptor()
    {
        lock (s_lock)
        {
            s_acceptors++;
            TakeLocked();
        }
    }

    /// <summary>An acceptor stopped: with the last one, the reserve goes back.</summary>
    public static void RemoveAcceptor()
    {
        lock (s_lock)
        {
            if (--s_acceptors == 0)
            {
                ReleaseLocked();
            }
        }
    }

    /// <summary>
    /// Whether the whole reserve is held, taking it if it is not; false (holding nothing) while descriptors are short.
    /// A read and no lock while it is held: accept loops ask before every accept.
    /// </summary>
    public static bool TryHold()
    {
        if (Volatile.Read(ref s_held) == Size)
        {
            return true;
        }
        lock (s_lock)
        {
            return TakeLocked();
        }
    }

    /// <summary>Gives the reserve up, so the process has descriptors to run on.</summary>
    public static void Release()
    {
        lock (s_lock)
        {
            ReleaseLocked();
        }
    }

    private static bool TakeLocked()
    {
        while (s_held < Size)
        {
            int fd = Libc.EventFd(0, Libc.EFD_CLOEXEC);
            if (fd < 0)
            {
                ReleaseLocked();
                return false;
            }
            s_descriptors[s_held++] = fd;
        }
        return true;
    }

    private static void ReleaseLocked()
    {
        while (s_held > 0)
        {
            Libc.Close(s_descriptors[--s_held]);
        }
    }
}
