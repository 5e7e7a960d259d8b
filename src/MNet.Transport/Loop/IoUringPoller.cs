using MNet.Transport.Native;

namespace MNet.Transport.Loop;

/// <summary>
/// An <see cref="IPoller"/> on io_uring: one ring per loop, whose completions the loop hands to their owners after
/// each wait (<see cref="DispatchCompletions"/>), a provided-buffer ring for multishot receives, and an eventfd read
/// kept in flight for <see cref="Wake"/>. Submissions are made on the loop thread and leave with its next wait, so
/// one system call carries a whole loop pass's sends and re-arms and waits for what comes back.
/// </summary>
internal sealed unsafe class IoUringPoller : IPoller
{
    private const ulong WakeUserData = ulong.MaxValue;
    private const ulong IgnoredUserData = ulong.MaxValue - 1;
    private const int OperationShift = 56;
    private const ulong IdMask = (1UL << OperationShift) - 1;
    private const uint SubmissionEntries = 1024;
    // Every buffer gets touched as the ring cycles, so this is resident memory per loop: 256 x 16 KiB = 4 MiB.
    private const int ReceiveBuffers = 256;
    private const int ReceiveBufferSize = 16 * 1024;
    /// <summary>How many sockets each ring registers by default; sockets past them are named by descriptor.</summary>
    public const int DefaultFileSlots = 16384;

    private readonly IoUringRing _ring;
    private readonly int _eventFd;
    private readonly ulong* _wakeValue;
    private ICompletionHandler?[] _handlers = new ICompletionHandler?[64];
    private uint[] _generations = new uint[64];
    private readonly Stack<int> _freeSlots = new();
    private int _slotCount;
    // Sockets registered with the ring: an operation on one skips the kernel's descriptor lookup and reference count
    // (an atomic pair per send in a process whose threads share the descriptor table). Each slot holds the descriptor
    // its last update installs, in native memory because the kernel reads it only when the update is submitted.
    private readonly int* _files;
    private readonly int _fileSlots; // 0 where the kernel refused the table: every socket is named by descriptor
    private readonly Stack<int> _freeFileSlots = new();
    private int _fileSlotsUsed;
    private bool _wakeArmed;
    private bool _ringClosed;
    private int _inFlight; // operations submitted whose last completion has not come
    private int _disposed;
    private int _activeWakers;

    /// <param name="failSetup">Refuses as a kernel without io_uring would (tests of the fallback).</param>
    /// <param name="fileSlots">How many sockets to register with the ring (<see cref="RegisterFile"/>).</param>
    /// <param name="plainRing">Sets the ring up as a kernel before 6.1 would (tests of that path).</param>
    /// <exception cref="PlatformNotSupportedException">The kernel refused io_uring; the message says why.</exception>
    public IoUringPoller(bool failSetup = false, int fileSlots = DefaultFileSlots, bool plainRing = false)
    {
        if (failSetup)
        {
            throw IoUringRing.Refused("io_uring_setup (refused on request: MNetTransportOptions test hook)", Errno.EPERM);
        }
        if (Environment.OSVersion.Version < new Version(6, 0))
        {
            // The ring itself works on 5.19, but multishot receives (IORING_RECV_MULTISHOT) came with 6.0.
            throw new PlatformNotSupportedException($"The io_uring backend needs Linux 6.0 or later (multishot receive); this kernel is {Environment.OSVersion.Version}. Use the epoll backend.");
        }
        _ring = new IoUringRing(SubmissionEntries, SubmissionEntries * 4, plainRing);
        try
        {
            Buffers = new ProvidedBufferRing(_ring, ReceiveBuffers, ReceiveBufferSize);
            _eventFd = Libc.EventFd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
            if (_eventFd < 0)
            {
                throw Errno.ToException(Errno.Last, "eventfd");
            }
        }
        catch
        {
            _ring.Dispose();
            Buffers?.Dispose();
            throw;
        }
        _wakeValue = (ulong*)System.Runtime.InteropServices.NativeMemory.Alloc(sizeof(ulong));
        // The kernel refuses a table larger than the descriptor limit, and no more sockets than that can be open.
        // Before 6.13 an operation on a registered file holds back the release of every file unregistered after it
        // started, so one idle connection's receive would keep all later-closed sockets open: none there.
        fileSlots = Environment.OSVersion.Version < new Version(6, 13) ? 0 : (int)Math.Min((ulong)fileSlots, Libc.DescriptorLimit() ?? 0);
        _files = (int*)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)Math.Max(fileSlots, 1), sizeof(int));
        // Refused anyway (ENOMEM): the sockets are named by descriptor, which works as well, a little slower.
        IoUringResourceRegistration table = new() { Count = (uint)fileSlots, Flags = IoUring.RSRC_REGISTER_SPARSE };
        _fileSlots = fileSlots > 0 && _ring.Register(IoUring.REGISTER_FILES2, &table, (uint)sizeof(IoUringResourceRegistration)) == 0 ? fileSlots : 0;
    }

    public ProvidedBufferRing Buffers { get; }

    /// <summary>Gives <paramref name="handler"/> an id to submit operations with; completions carrying it reach it until <see cref="Unregister"/>.</summary>
    public ulong Register(ICompletionHandler handler)
    {
        int slot;
        if (!_freeSlots.TryPop(out slot))
        {
            slot = _slotCount++;
            if (slot == _handlers.Length)
            {
                Array.Resize(ref _handlers, slot * 2);
                Array.Resize(ref _generations, slot * 2);
            }
        }
        _handlers[slot] = handler;
        return ((ulong)(_generations[slot] & 0xFFFFFF) << 32) | (uint)slot;
    }

    /// <summary>Forgets an id; completions still to come for it are dropped.</summary>
    public void Unregister(ulong id)
    {
        int slot = (int)(uint)id;
        if (slot < _slotCount && _handlers[slot] is not null && (_generations[slot] & 0xFFFFFF) == (uint)(id >> 32))
        {
            _handlers[slot] = null;
            _generations[slot]++;
            _freeSlots.Push(slot);
        }
    }

    /// <summary>Whether the ring defers completion work to the loop's own waits (<see cref="IoUringRing.DefersTaskWork"/>).</summary>
    public bool DefersTaskWork => _ring.DefersTaskWork;

    /// <summary>How many sockets are registered with the ring now.</summary>
    public int RegisteredFiles => _fileSlotsUsed - _freeFileSlots.Count;

    /// <summary>
    /// Registers socket <paramref name="fd"/> with the ring (the update leaves with the next submission, ahead of
    /// what is submitted after it). Operations on it then name the slot: see <see cref="SetFile"/>.
    /// </summary>
    /// <returns>The slot, or -1 when every slot is taken: the socket is then named by its descriptor.</returns>
    public int RegisterFile(int fd)
    {
        if (!_freeFileSlots.TryPop(out int slot))
        {
            if (_fileSlotsUsed == _fileSlots)
            {
                return -1;
            }
            slot = _fileSlotsUsed++;
        }
        UpdateFile(slot, fd);
        return slot;
    }

    /// <summary>
    /// Empties <paramref name="slot"/> (from <see cref="RegisterFile"/>; -1 is ignored). The ring holds the socket open
    /// until the update is submitted, which the loop's next wait does; the owner must submit nothing on it after this.
    /// </summary>
    public void UnregisterFile(int slot)
    {
        if (slot >= 0 && !_ringClosed) // a closed ring has let go of its table
        {
            UpdateFile(slot, -1);
            _freeFileSlots.Push(slot);
        }
    }

    /// <summary>Points <paramref name="sqe"/> at a socket: its registered slot when it has one, else its descriptor.</summary>
    public static void SetFile(IoUringSqe* sqe, int fd, int slot)
    {
        if (slot >= 0)
        {
            sqe->Fd = slot;
            sqe->Flags |= IoUring.SQE_FIXED_FILE;
        }
        else
        {
            sqe->Fd = fd;
        }
    }

    /// <summary>A cleared submission for operation <paramref name="operation"/> of <paramref name="id"/>; submits first if the ring is full.</summary>
    /// <exception cref="ObjectDisposedException">The loop has exited (its ring is unmapped).</exception>
    /// <exception cref="System.Net.Sockets.SocketException">The ring is full and the kernel refuses to take its submissions.</exception>
    public IoUringSqe* GetSqe(ulong id, byte operation)
    {
        EnsureFreeSqes(1);
        IoUringSqe* sqe = _ring.TryGetSqe();
        sqe->UserData = id | ((ulong)operation << OperationShift);
        _inFlight++;
        return sqe;
    }

    /// <summary>
    /// Makes room for <paramref name="count"/> submissions (at most the ring's size), submitting what is queued if
    /// need be: a chain of linked submissions must leave in one piece, or its tail runs unlinked.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The loop has exited (its ring is unmapped).</exception>
    /// <exception cref="System.Net.Sockets.SocketException">The ring is full and the kernel refuses to take its submissions.</exception>
    public void EnsureFreeSqes(int count)
    {
        ObjectDisposedException.ThrowIf(_ringClosed, this);
        while (_ring.FreeSqes < count)
        {
            int errno = _ring.Enter(0);
            if (errno is not (0 or Errno.EINTR or Errno.EAGAIN))
            {
                // EBUSY: completions the kernel cannot post are backed up, and only this thread could take them.
                throw Errno.ToException(errno, "io_uring_enter (submission queue full)");
            }
        }
    }

    /// <summary>Asks the kernel to cancel every operation in flight; their completions reach their owners as usual.</summary>
    public void CancelAll() => SubmitCancel(0, IoUring.ASYNC_CANCEL_ANY | IoUring.ASYNC_CANCEL_ALL, IgnoredUserData);

    /// <summary>
    /// Asks the kernel to cancel operation <paramref name="operation"/> of <paramref name="id"/>; its completion says
    /// how it ended. With <paramref name="reportAs"/>, the cancel's own completion reaches the owner as that operation
    /// (-ENOENT: nothing to cancel was found, as for a linked operation the kernel has not started yet).
    /// </summary>
    public void Cancel(ulong id, byte operation, byte reportAs = 0)
        => SubmitCancel(id | ((ulong)operation << OperationShift), 0, reportAs == 0 ? IgnoredUserData : id | ((ulong)reportAs << OperationShift));

    /// <summary>Hands the kernel what was submitted now, without waiting for the loop's next wait. Loop thread.</summary>
    public void SubmitNow() => _ring.Enter(0);

    /// <summary>Hands the kernel what was submitted, if anything was (no system call otherwise). Loop thread.</summary>
    public void SubmitQueued()
    {
        if (_ring.HasUnsubmitted)
        {
            _ring.Enter(0);
        }
    }

    public int Wait(Span<PollEvent> events, int timeoutMilliseconds)
    {
        if (!_wakeArmed)
        {
            ArmWake();
        }
        int errno = _ring.Enter(timeoutMilliseconds);
        if (errno is not (0 or Errno.EINTR or Errno.ETIME or Errno.EBUSY))
        {
            throw Errno.ToException(errno, "io_uring_enter");
        }
        return 0; // completions are not readiness events: the loop takes them with DispatchCompletions
    }

    /// <summary>Whether operations other than the wake-up read are still in the kernel's hands.</summary>
    public bool HasOperationsInFlight => _inFlight > (_wakeArmed ? 1 : 0);

    /// <summary>Hands each posted completion to its owner. Loop thread.</summary>
    /// <returns>How many were handed over.</returns>
    public int DispatchCompletions(Action<Exception> onHandlerFailed)
    {
        int dispatched = 0;
        while (_ring.TryTakeCompletion(out IoUringCqe cqe))
        {
            if ((cqe.Flags & IoUring.CQE_F_MORE) == 0)
            {
                _inFlight--;
            }
            if (cqe.UserData == WakeUserData)
            {
                _wakeArmed = false; // re-armed by the next wait
                continue;
            }
            if (cqe.UserData == IgnoredUserData)
            {
                continue;
            }
            ulong id = cqe.UserData & IdMask;
            int slot = (int)(uint)id;
            ICompletionHandler? handler = slot < _slotCount && (_generations[slot] & 0xFFFFFF) == (uint)(id >> 32) ? _handlers[slot] : null;
            if (handler is null)
            {
                ReturnUnclaimedBuffer(cqe);
                continue;
            }
            try
            {
                handler.OnCompletion((byte)(cqe.UserData >> OperationShift), cqe.Result, cqe.Flags);
            }
            catch (Exception ex)
            {
                onHandlerFailed(ex);
            }
            dispatched++;
        }
        return dispatched;
    }

    public void Wake()
    {
        // Counted so Dispose never closes the eventfd under a caller: its number can be reused at once, and the
        // write would land in someone else's file.
        Interlocked.Increment(ref _activeWakers);
        if (Volatile.Read(ref _disposed) == 0)
        {
            ulong one = 1;
            Libc.Write(_eventFd, &one, sizeof(ulong));
        }
        Interlocked.Decrement(ref _activeWakers);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        // The kernel may still be filling a provided buffer, and closing the ring ends its operations only later, on a
        // kernel thread: cancel them all and wait for their last completions before the buffers are freed.
        CancelAll();
        ulong one = 1;
        Libc.Write(_eventFd, &one, sizeof(ulong)); // completes the wake read in flight, if any
        long deadline = Environment.TickCount64 + 2000;
        while (_inFlight > 0 && _ring.IsEnabled && Environment.TickCount64 < deadline)
        {
            if (_ring.Enter(100) is not (0 or Errno.ETIME or Errno.EINTR))
            {
                break; // the ring refuses this thread (not its submitter) or is broken: nothing more will complete
            }
            while (_ring.TryTakeCompletion(out IoUringCqe cqe))
            {
                _inFlight -= (cqe.Flags & IoUring.CQE_F_MORE) == 0 ? 1 : 0; // owners are gone: only counted
            }
        }
        bool drained = _inFlight <= 0 || !_ring.IsEnabled;
        _ringClosed = true;
        _ring.Dispose();
        if (drained)
        {
            Buffers.Dispose(); // else left allocated: a kernel that still held one could write into freed memory
        }
        SpinWait spin = default;
        while (Volatile.Read(ref _activeWakers) != 0)
        {
            spin.SpinOnce();
        }
        Libc.Close(_eventFd);
        System.Runtime.InteropServices.NativeMemory.Free(_wakeValue);
        System.Runtime.InteropServices.NativeMemory.Free(_files);
    }

    /// <summary>An async cancel of the operation whose user data is <paramref name="target"/> (or, by <paramref name="flags"/>, of every one); its own completion carries <paramref name="userData"/>.</summary>
    private void SubmitCancel(ulong target, uint flags, ulong userData)
    {
        IoUringSqe* cancel = GetSqe(0, 0);
        cancel->Opcode = IoUring.OP_ASYNC_CANCEL;
        cancel->Fd = -1;
        cancel->Address = target;
        cancel->OperationFlags = flags;
        cancel->UserData = userData;
    }

    /// <summary>
    /// Installs <paramref name="fd"/> (-1: none) in <paramref name="slot"/>. Submissions are issued in order, so what
    /// follows in the ring sees it. If a freed slot is taken again before the update leaves, both updates read the new
    /// descriptor, which is what the slot should end up holding.
    /// </summary>
    private void UpdateFile(int slot, int fd)
    {
        _files[slot] = fd;
        IoUringSqe* sqe = GetSqe(0, 0);
        sqe->Opcode = IoUring.OP_FILES_UPDATE;
        sqe->Fd = -1;
        sqe->Address = (ulong)&_files[slot];
        sqe->Length = 1;
        sqe->Offset = (ulong)slot;
        sqe->UserData = IgnoredUserData;
    }

    /// <summary>A read of the eventfd kept in flight: Wake's write completes it, which ends the wait.</summary>
    private void ArmWake()
    {
        IoUringSqe* sqe = GetSqe(0, 0);
        sqe->Opcode = IoUring.OP_READ;
        sqe->Fd = _eventFd;
        sqe->Address = (ulong)_wakeValue;
        sqe->Length = sizeof(ulong);
        sqe->UserData = WakeUserData;
        _wakeArmed = true;
    }

    /// <summary>A receive that completed after its owner left still took a buffer: give it back.</summary>
    private void ReturnUnclaimedBuffer(in IoUringCqe cqe)
    {
        if (cqe.Result > 0 && (cqe.Flags & IoUring.CQE_F_BUFFER) != 0)
        {
            Buffers.Return((ushort)(cqe.Flags >> IoUring.CQE_BUFFER_SHIFT));
        }
    }
}
