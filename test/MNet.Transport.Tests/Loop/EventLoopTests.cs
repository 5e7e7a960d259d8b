using System.Collections.Concurrent;
using MNet.Transport.Loop;
using MNet.Transport.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace MNet.Transport.Tests.Loop;

public sealed class EventLoopTests
{
    [Fact]
    public async Task ScheduledWork_FromManyThreads_RunsOnTheLoopThread_InEachProducersOrder()
    {
        const int Producers = 4;
        const int ItemsEach = 20_000;
        EventLoop loop = TestLoops.Start(new RecordingLogger());
        ConcurrentQueue<(int Producer, int Sequence, bool OnLoop)> ran = new();
        TaskCompletionSource done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        int remaining = Producers * ItemsEach;

        await Task.WhenAll(Enumerable.Range(0, Producers).Select(producer => Task.Run(() =>
        {
            for (int i = 0; i < ItemsEach; i++)
            {
                (int, int) item = (producer, i);
                loop.Schedule(state =>
                {
                    (int p, int s) = ((int, int))state!;
                    ran.Enqueue((p, s, loop.IsOnLoopThread));
                    if (Interlocked.Decrement(ref remaining) == 0)
                    {
                        done.SetResult();
                    }
                }, item);
            }
        })));
        await done.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await loop.StopAsync();

        Assert.All(ran, item => Assert.True(item.OnLoop));
        foreach (IGrouping<int, (int Producer, int Sequence, bool OnLoop)> producer in ran.GroupBy(item => item.Producer))
        {
            Assert.Equal(Enumerable.Range(0, ItemsEach), producer.Select(item => item.Sequence));
        }
    }

    [Fact]
    public async Task ACallbackThatThrows_IsLogged_AndTheLoopGoesOn()
    {
        RecordingLogger logger = new();
        EventLoop loop = TestLoops.Start(logger);
        TaskCompletionSource after = new(TaskCreationOptions.RunContinuationsAsynchronously);

        loop.Schedule(_ => throw new InvalidOperationException("boom"), null);
        loop.Schedule(_ => after.SetResult(), null);

        await after.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await loop.StopAsync();
        LogEntry entry = Assert.Single(logger.Entries);
        Assert.Equal(LogLevel.Error, entry.Level);
        Assert.Equal("boom", entry.Exception?.Message);
    }

    [Fact]
    public async Task WorkScheduledAfterStop_StillRuns_AndTheThreadAndDescriptorsAreGone()
    {
        int descriptorsBefore = ProcessResources.OpenFileDescriptors;
        int threadsBefore = ProcessResources.LoopThreads;
        EventLoop loop = TestLoops.Start(new RecordingLogger());
        Assert.Equal(threadsBefore + 1, ProcessResources.LoopThreads);

        await loop.StopAsync();
        TaskCompletionSource ran = new(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.Schedule(_ => ran.SetResult(), null);
        await loop.StopAsync();

        await ran.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(threadsBefore, await ProcessResources.SettleAsync(() => ProcessResources.LoopThreads, threadsBefore));
        Assert.True(ProcessResources.OpenFileDescriptors <= descriptorsBefore, ProcessResources.DescribeFileDescriptors());
    }

    [Fact]
    public async Task StopRacingWithSchedule_NeverStrandsWork()
    {
        for (int round = 0; round < 200; round++)
        {
            EventLoop loop = TestLoops.Start(new RecordingLogger());
            int scheduled = 0;
            int ran = 0;
            Task stop = Task.CompletedTask;
            using Barrier start = new(2);
            Task producer = Task.Factory.StartNew(() =>
            {
                start.SignalAndWait();
                // Keep scheduling across the loop's exit so some items land while it leaves. Paced: a producer that
                // never lets the queue empty holds the loop in its final drain until that times out, while the queue
                // grows by millions of items a round (gigabytes over the test).
                while (!stop.IsCompleted || scheduled < 100)
                {
                    loop.Schedule(_ => Interlocked.Increment(ref ran), null);
                    scheduled++;
                    Thread.SpinWait(20);
                }
            }, TaskCreationOptions.LongRunning);
            start.SignalAndWait();
            stop = loop.StopAsync();

            await Task.WhenAll(producer, stop);
            int notRun = await ProcessResources.SettleAsync(() => scheduled - Volatile.Read(ref ran), 0);
            Assert.Equal(0, notRun);
        }
    }
}
