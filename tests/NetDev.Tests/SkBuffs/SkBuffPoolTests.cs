namespace NetDev.Tests.SkBuffs;

/// <summary>The pool: counting releases, reusing storage, handing frames across threads, growing buffers.</summary>
public sealed class SkBuffPoolTests
{
    [Fact]
    public void DropsAreCountedPerReasonAndConsumesApart()
    {
        var pool = new SkBuffPool();
        pool.Rent().Drop(DropReason.QueueFull);
        pool.Rent().Drop(DropReason.QueueFull);
        pool.Rent().Drop(DropReason.NoRoute);
        pool.Rent().Drop(DropReason.NotSpecified);
        for (var i = 0; i < 3; i++)
        {
            pool.Rent().Consume();
        }

        foreach (var reason in Enum.GetValues<DropReason>())
        {
            var expected = reason switch
            {
                DropReason.QueueFull => 2,
                DropReason.NoRoute => 1,
                DropReason.NotSpecified => 1,
                _ => 0,
            };
            Assert.Equal(expected, pool.DropCount(reason));
        }
        Assert.Equal(4, pool.TotalDrops);
        Assert.Equal(3, pool.ConsumedCount);
        Assert.Equal(0, pool.Outstanding);
    }

    [Fact]
    public void EveryReasonHasItsOwnCounter()
    {
        var pool = new SkBuffPool();
        var reasons = Enum.GetValues<DropReason>();
        for (var i = 0; i < reasons.Length; i++)
        {
            for (var n = 0; n <= i; n++)
            {
                pool.Rent().Drop(reasons[i]);
            }
        }

        for (var i = 0; i < reasons.Length; i++)
        {
            Assert.Equal(i + 1, pool.DropCount(reasons[i]));
        }
        Assert.Equal(0, pool.ConsumedCount);
    }

    [Fact]
    public void OutstandingCountsFramesNotYetReleased()
    {
        var pool = new SkBuffPool();
        var a = pool.Rent();
        var b = pool.Rent();
        Assert.Equal(2, pool.Outstanding);

        a.Consume();
        Assert.Equal(1, pool.Outstanding);
        b.Drop(DropReason.NotSpecified);
        Assert.Equal(0, pool.Outstanding);
        Assert.Equal(2, pool.Allocated);
    }

    [Fact]
    public void ReturnOfAnUnusedBufferCountsNothingAndReusesIt()
    {
        var pool = new SkBuffPool();
        var skb = pool.Rent();

        pool.Return(skb);

        Assert.False(skb.IsLive);
        Assert.Equal(0, pool.ConsumedCount);
        Assert.Equal(0, pool.TotalDrops);
        Assert.Equal(0, pool.Outstanding);
        Assert.True(pool.CheckLeaks().IsClean);
        pool.Rent().Consume();
        Assert.Equal(1, pool.Allocated);
    }

    [Fact]
    public void ReturnRejectsABufferOfAnotherPoolAndLeavesItAlone()
    {
        var mine = new SkBuffPool(name: "mine");
        var theirs = new SkBuffPool(name: "theirs");
        var skb = theirs.Rent();

        var error = Assert.Throws<ArgumentException>(() => mine.Return(skb));

        Assert.Equal("skb", error.ParamName);
        Assert.Contains("'theirs'", error.Message, StringComparison.Ordinal);
        Assert.True(skb.IsLive);
        Assert.Equal(1, theirs.Outstanding);
        Assert.Equal(0, mine.Allocated);
        skb.Consume();
        Assert.Equal(1, theirs.ConsumedCount);
        Assert.Equal(0, mine.ConsumedCount);
    }

    [Fact]
    public void SteadyStateAllocatesNoNewBufferOnTheOwnerThread()
    {
        var pool = new SkBuffPool();
        pool.BindToCurrentThread();
        RentAndReleaseInRounds(pool, rounds: 1000, framesPerRound: 4);

        Assert.Equal(4, pool.Allocated);
        Assert.Equal(4000, pool.ConsumedCount + pool.TotalDrops);
    }

    [Fact]
    public void SteadyStateAllocatesNoNewBufferWithoutAnOwner()
    {
        var pool = new SkBuffPool();
        RentAndReleaseInRounds(pool, rounds: 1000, framesPerRound: 4);

        Assert.Equal(4, pool.Allocated);
    }

    [Fact]
    public void AFrameReleasedOnAnotherThreadIsCountedAndReusedByTheOwner()
    {
        var pool = new SkBuffPool();
        pool.BindToCurrentThread();
        var skb = pool.Rent();

        OnOtherThread(skb.Consume);

        Assert.False(skb.IsLive);
        Assert.Equal(1, pool.ConsumedCount);
        Assert.Equal(0, pool.Outstanding);
        var again = pool.Rent();
        Assert.Equal(1, pool.Allocated);
        again.Consume();
    }

    [Fact]
    public void FramesHandedBetweenTheOwnerAndOtherThreadsAreReusedAndCountedOnce()
    {
        var pool = new SkBuffPool();
        pool.BindToCurrentThread();

        for (var round = 0; round < 50; round++)
        {
            var local = pool.Rent();
            var handedOff = pool.Rent();
            OnOtherThread(() => handedOff.Drop(DropReason.QueueFull));
            local.Consume();
        }

        Assert.Equal(2, pool.Allocated);
        Assert.Equal(50, pool.ConsumedCount);
        Assert.Equal(50, pool.DropCount(DropReason.QueueFull));
        Assert.Equal(0, pool.Outstanding);
    }

    [Fact]
    public void AnotherThreadMayRentWhatItReturned()
    {
        var pool = new SkBuffPool();
        pool.BindToCurrentThread();
        var allocated = 0;

        OnOtherThread(() =>
        {
            for (var i = 0; i < 100; i++)
            {
                pool.Rent().Consume();
            }
            allocated = pool.Allocated;
        });

        Assert.Equal(1, allocated);
        Assert.Equal(100, pool.ConsumedCount);
    }

    [Fact]
    public void RaisingBufferSizeGrowsReusedBuffersWithoutNewSlots()
    {
        var pool = new SkBuffPool(bufferSize: 256, headroom: 64);
        pool.Rent().Consume();

        pool.BufferSize = 1024;
        var grown = pool.Rent();

        Assert.Equal(1024, grown.Capacity);
        Assert.Equal(64, grown.Headroom);
        Assert.Equal(1024 - 64, grown.Tailroom);
        Assert.Equal(1, pool.Allocated);
        grown.Consume();
    }

    [Fact]
    public void RentWithALargerCapacityGrowsTheBuffer()
    {
        var pool = new SkBuffPool(bufferSize: 256, headroom: 64);
        pool.Rent().Consume();

        var large = pool.Rent(9000);

        Assert.True(large.Capacity >= 9000);
        Assert.Equal(64, large.Headroom);
        large.Consume();
        Assert.True(pool.Rent().Capacity >= 256);
    }

    [Fact]
    public void ASmallerRequestGetsAtLeastBufferSize()
    {
        var pool = new SkBuffPool(bufferSize: 512, headroom: 64);

        var skb = pool.Rent(100);

        Assert.Equal(512, skb.Capacity);
        skb.Consume();
    }

    [Fact]
    public void SizesAreChecked()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SkBuffPool(bufferSize: 128, headroom: 128));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SkBuffPool(bufferSize: 128, headroom: -1));
        var pool = new SkBuffPool(bufferSize: 256, headroom: 64);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.BufferSize = 64);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(64));
        Assert.Equal(256, pool.BufferSize);
        Assert.Equal(0, pool.Allocated);
    }

    [Fact]
    public void DefaultsLeaveRoomForAnMtuFrameBehindTheHeadroom()
    {
        var pool = new SkBuffPool(name: "tx queue 0");
        var skb = pool.Rent();

        Assert.Equal("tx queue 0", pool.Name);
        Assert.Equal(SkBuffPool.DefaultHeadroom, skb.Headroom);
        Assert.Equal(SkBuffPool.DefaultBufferSize, skb.Capacity);
        Assert.True(skb.Tailroom >= 1500 + NetDevice.LinkOverhead);
        skb.Consume();
    }

    private static void RentAndReleaseInRounds(SkBuffPool pool, int rounds, int framesPerRound)
    {
        var frames = new SkBuff[framesPerRound];
        for (var round = 0; round < rounds; round++)
        {
            for (var i = 0; i < frames.Length; i++)
            {
                frames[i] = pool.Rent();
                frames[i].Put(60);
            }
            for (var i = 0; i < frames.Length; i++)
            {
                if (i % 2 == 0)
                {
                    frames[i].Consume();
                }
                else
                {
                    frames[i].Drop(DropReason.Filtered);
                }
            }
        }
    }

    /// <summary>Runs <paramref name="action"/> on a new thread (never the owner) and waits for it, rethrowing its failure.</summary>
    private static void OnOtherThread(Action action)
    {
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                action();
            }
            catch (Exception error)
            {
                failure = error;
            }
        });
        thread.Start();
        thread.Join();
        if (failure is not null)
        {
            throw new InvalidOperationException("The other thread failed.", failure);
        }
    }

    [Fact]
    public void ReserveReachesTheWorkingSizeSoRentingThatManyAllocatesNothing()
    {
        var pool = new SkBuffPool(name: "reserve");
        // Reserved from another thread (a driver's Open runs on the control thread), used on the owner's.
        var reserver = new Thread(() => pool.Reserve(40));
        reserver.Start();
        reserver.Join();
        Assert.Equal(40, pool.Allocated);
        pool.Reserve(10);
        Assert.Equal(40, pool.Allocated);

        pool.BindToCurrentThread();
        var frames = new SkBuff[40];
        // The first round moves the reserved buffers to the owner's side; the second is the steady state.
        for (var round = 0; round < 2; round++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < frames.Length; i++)
            {
                frames[i] = pool.Rent();
            }
            foreach (var frame in frames)
            {
                frame.Consume();
            }
            if (round == 1)
            {
                Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
            }
        }
        Assert.Equal(40, pool.Allocated);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Reserve(-1));
    }
}
