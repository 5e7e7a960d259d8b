using System.Buffers;
using System.IO.Pipelines;
using MNet.Transport.Hosting;
using MNet.Transport.Loop;
using Microsoft.Extensions.Logging;

namespace MNet.Transport.Tcp;

/// <summary>What every connection on one loop shares: its loop, the pool and the pipe options.</summary>
internal sealed class TcpConnectionSettings
{
    public TcpConnectionSettings(
        EventLoop loop,
        MemoryPool<byte> memoryPool,
        PipeScheduler applicationScheduler,
        PipeScheduler receiveScheduler,
        PipeScheduler sendScheduler,
        MNetTransportOptions options,
        ILogger logger)
    {
        Loop = loop;
        ReceiveScheduler = receiveScheduler;
        Senders = new SendStatePool<SocketOperation>(() => new SocketOperation(receiveScheduler), maxPooled: 1024);
        // 10 KiB each, partly on the pinned object heap: enough for a loop pass's sends to a few hundred connections
        // at once without making new ones, without keeping a burst's worth for good.
        GatherLists = new SendStatePool<SendGatherList>(static () => new SendGatherList(), maxPooled: 256);
        MemoryPool = memoryPool;
        Logger = logger;
        NoDelay = options.NoDelay;
        long maxReadBufferSize = options.MaxReadBufferSize ?? 0;
        long maxWriteBufferSize = options.MaxWriteBufferSize ?? 0;
        InputOptions = new PipeOptions(
            memoryPool,
            readerScheduler: applicationScheduler,
            writerScheduler: receiveScheduler,
            pauseWriterThreshold: maxReadBufferSize,
            resumeWriterThreshold: maxReadBufferSize / 2,
            minimumSegmentSize: memoryPool.MaxBufferSize,
            useSynchronizationContext: false);
        OutputOptions = new PipeOptions(
            memoryPool,
            readerScheduler: sendScheduler,
            writerScheduler: applicationScheduler,
            pauseWriterThreshold: maxWriteBufferSize,
            resumeWriterThreshold: maxWriteBufferSize / 2,
            minimumSegmentSize: memoryPool.MaxBufferSize,
            useSynchronizationContext: false);
    }

    public EventLoop Loop { get; }

    public MemoryPool<byte> MemoryPool { get; }

    /// <summary>
    /// Where the receive loop resumes (after a flush that waited, and on the portable backend after a socket operation
    /// that did not complete at once). The send loop's reads resume on the scheduler given as <c>sendScheduler</c>.
    /// </summary>
    public PipeScheduler ReceiveScheduler { get; }

    /// <summary>The portable backend's send operations, lent to this loop's connections one send at a time.</summary>
    public SendStatePool<SocketOperation> Senders { get; }

    /// <summary>io_uring's gather lists, lent to this loop's connections one send of several segments at a time.</summary>
    public SendStatePool<SendGatherList> GatherLists { get; }

    public PipeOptions InputOptions { get; }

    public PipeOptions OutputOptions { get; }

    public ILogger Logger { get; }

    /// <summary>Whether TCP connections get TCP_NODELAY.</summary>
    public bool NoDelay { get; }
}
