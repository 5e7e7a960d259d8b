using System.Runtime.InteropServices;
using MNet.Transport.Native;

namespace MNet.Transport.Loop;

/// <summary>
/// One io_uring instance: its submission and completion rings mapped into the process. Only the loop thread touches
/// it after construction: it takes submission slots, publishes them with <see cref="Enter"/>, and reads completions.
/// Where the kernel has them (6.1), the ring is single-issuer with deferred task work: the kernel does the work of
/// completions (a multishot receive's next read, a send's retry) inside the loop's own io_uring_enter rather than
/// interrupting the thread for it. Such a ring starts disabled and is enabled by the first Enter, so the thread that
/// enters first (the loop's) becomes its only submitter.
/// </summary>
internal sealed unsafe class IoUringRing : IDisposable
{
    private readonly int _fd;
    private readonly byte* _rings;
    private readonly nuint _ringsSize;
    private readonly IoUringSqe* _sqes;
    private readonly nuint _sqesSize;
    private readonly uint* _sqHead;
    private readonly uint* _sqTail;
    private readonly uint _sqMask;
    private readonly uint _sqEntries;
    private readonly uint* _cqHead;
    private readonly uint* _cqTail;
    private readonly uint _cqMask;
    private readonly IoUringCqe* _cqes;
    private readonly uint* _sqFlags;
    private bool _enabled;
    private uint _sqLocalTail;
    private uint _sqSubmitted;

    /// <param name="entries">Submission slots.</param>
    /// <param name="completionEntries">Completion slots (room for the multishot completions of many submissions).</param>
    /// <param name="plain">Makes the ring a kernel before 6.1 would give: without deferred task work (tests of that path).</param>
    /// <exception cref="PlatformNotSupportedException">The kernel refused the ring (and says why).</exception>
    public IoUringRing(uint entries, uint completionEntries, bool plain = false)
    {
        const uint deferred = IoUring.SETUP_SINGLE_ISSUER | IoUring.SETUP_DEFER_TASKRUN | IoUring.SETUP_TASKRUN_FLAG | IoUring.SETUP_R_DISABLED;
        IoUringParams parameters = new() { Flags = IoUring.SETUP_CQSIZE | IoUring.SETUP_SUBMIT_ALL | deferred, CqEntries = completionEntries };
        _fd = plain ? -1 : IoUring.Setup(entries, &parameters);
        if (plain || (_fd < 0 && Errno.Last == Errno.EINVAL))
        {
            parameters = new() { Flags = IoUring.SETUP_CQSIZE | IoUring.SETUP_SUBMIT_ALL, CqEntries = completionEntries }; // before 6.1
            _fd = IoUring.Setup(entries, &parameters);
        }
        if (_fd < 0)
        {
            throw Refused("io_uring_setup", Errno.Last);
        }
        _enabled = (parameters.Flags & IoUring.SETUP_R_DISABLED) == 0;
        DefersTaskWork = (parameters.Flags & IoUring.SETUP_DEFER_TASKRUN) != 0;

        try
        {
            const uint required = IoUring.FEAT_SINGLE_MMAP | IoUring.FEAT_NODROP | IoUring.FEAT_EXT_ARG;
            if ((parameters.Features & required) != required)
            {
                throw new PlatformNotSupportedException($"io_uring lacks features this backend needs (it has 0x{parameters.Features:x}; Linux 6.0 or later has them).");
            }

            // One mapping holds both rings (FEAT_SINGLE_MMAP); the submission entries have their own.
            nuint sqSize = parameters.SqOffsets.Field6 + parameters.SqEntries * sizeof(uint);
            nuint cqSize = parameters.CqOffsets.Field5 + parameters.CqEntries * (nuint)sizeof(IoUringCqe);
            _ringsSize = Math.Max(sqSize, cqSize);
            _rings = Map(_ringsSize, IoUring.OFF_SQ_RING);
            _sqesSize = parameters.SqEntries * (nuint)sizeof(IoUringSqe);
            _sqes = (IoUringSqe*)Map(_sqesSize, IoUring.OFF_SQES);
        }
        catch
        {
            if (_rings is not null)
            {
                Libc.Munmap(_rings, _ringsSize);
            }
            Libc.Close(_fd);
            throw;
        }

        _sqHead = (uint*)(_rings + parameters.SqOffsets.Head);
        _sqTail = (uint*)(_rings + parameters.SqOffsets.Tail);
        _sqMask = *(uint*)(_rings + parameters.SqOffsets.RingMask);
        _sqFlags = (uint*)(_rings + parameters.SqOffsets.Field4);
        _sqEntries = parameters.SqEntries;
        uint* array = (uint*)(_rings + parameters.SqOffsets.Field6);
        for (uint i = 0; i < _sqEntries; i++)
        {
            array[i] = i; // slot i of the ring is entry i, always
        }
        _cqHead = (uint*)(_rings + parameters.CqOffsets.Head);
        _cqTail = (uint*)(_rings + parameters.CqOffsets.Tail);
        _cqMask = *(uint*)(_rings + parameters.CqOffsets.RingMask);
        _cqes = (IoUringCqe*)(_rings + parameters.CqOffsets.Field5);
    }

    /// <summary>Whether the kernel runs completion work only inside <see cref="Enter"/> (Linux 6.1 and later).</summary>
    public bool DefersTaskWork { get; }

    /// <summary>Whether submission entries were taken that the kernel has not been handed yet.</summary>
    public bool HasUnsubmitted => _sqLocalTail != _sqSubmitted;

    /// <summary>Completions posted and not yet taken.</summary>
    public bool HasCompletions => Volatile.Read(ref *_cqTail) != *_cqHead;

    /// <summary>How many submission entries can be taken before the kernel must be handed the ones taken.</summary>
    public uint FreeSqes => _sqEntries - (_sqLocalTail - Volatile.Read(ref *_sqHead));

    /// <summary>A cleared submission entry, or null when every slot waits for the kernel (submit, then ask again).</summary>
    public IoUringSqe* TryGetSqe()
    {
        if (FreeSqes == 0)
        {
            return null;
        }
        IoUringSqe* sqe = &_sqes[_sqLocalTail & _sqMask];
        *sqe = default;
        _sqLocalTail++;
        return sqe;
    }

    /// <summary>
    /// Hands the kernel what was taken and, when <paramref name="timeoutMilliseconds"/> is not 0, waits for a completion
    /// up to that long (-1: no limit).
    /// </summary>
    /// <returns>0, or the errno (ETIME and EINTR are routine: the wait ended without a completion).</returns>
    public int Enter(int timeoutMilliseconds)
    {
        if (!_enabled)
        {
            if (Register(IoUring.REGISTER_ENABLE_RINGS, null, 0) != 0)
            {
                return Errno.Last;
            }
            _enabled = true; // this thread is the ring's submitter from now on
        }
        uint toSubmit = _sqLocalTail - _sqSubmitted;
        Volatile.Write(ref *_sqTail, _sqLocalTail);
        uint minComplete = timeoutMilliseconds == 0 || HasCompletions ? 0u : 1u;
        if (toSubmit == 0 && minComplete == 0 && (Volatile.Read(ref *_sqFlags) & IoUring.SQ_TASKRUN) == 0)
        {
            return 0; // nothing to hand over, nothing to wait for, and no deferred completion work to run
        }

        KernelTimespec timeout = new() { Seconds = timeoutMilliseconds / 1000, Nanoseconds = timeoutMilliseconds % 1000 * 1_000_000L };
        GeteventsArgument argument = new() { Timeout = timeoutMilliseconds > 0 ? (ulong)&timeout : 0 };
        int result = IoUring.Enter(_fd, toSubmit, minComplete, IoUring.ENTER_GETEVENTS | IoUring.ENTER_EXT_ARG, &argument, (nuint)sizeof(GeteventsArgument));
        if (result >= 0)
        {
            _sqSubmitted += (uint)result;
            return 0;
        }
        return Errno.Last;
    }

    /// <summary>Whether the kernel has taken anything: a ring never entered has run no operation.</summary>
    public bool IsEnabled => _enabled;

    public bool TryTakeCompletion(out IoUringCqe completion)
    {
        uint head = *_cqHead;
        if (head == Volatile.Read(ref *_cqTail))
        {
            completion = default;
            return false;
        }
        completion = _cqes[head & _cqMask];
        Volatile.Write(ref *_cqHead, head + 1);
        return true;
    }

    public int Register(uint opcode, void* argument, uint count) => IoUring.Register(_fd, opcode, argument, count);

    public void Dispose()
    {
        Libc.Munmap(_sqes, _sqesSize);
        Libc.Munmap(_rings, _ringsSize);
        Libc.Close(_fd);
    }

    internal static PlatformNotSupportedException Refused(string call, int errno) => new(
        $"{call} failed: {Errno.ToSocketException(errno).Message} (errno {errno}). io_uring may be disabled " +
        "(sysctl kernel.io_uring_disabled), blocked by seccomp, or missing from this kernel; use the epoll backend.");

    private byte* Map(nuint size, long offset)
    {
        void* address = Libc.Mmap(null, size, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED | Libc.MAP_POPULATE, _fd, (nint)offset);
        if (address == (void*)-1)
        {
            throw Refused("mmap of the io_uring rings", Errno.Last);
        }
        return (byte*)address;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct KernelTimespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    /// <summary>struct io_uring_getevents_arg: no signal mask, an optional timeout.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct GeteventsArgument
    {
        public ulong SignalMask;
        public uint SignalMaskSize;
        public uint MinWaitMicroseconds;
        public ulong Timeout;
    }
}
