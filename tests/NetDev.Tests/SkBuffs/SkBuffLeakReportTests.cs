using System.Runtime.CompilerServices;

namespace NetDev.Tests.SkBuffs;

/// <summary>
/// Leak reports. These tests set the process-wide <see cref="SkBuffPool.CaptureAllocationStacks"/>, so
/// they run alone (their collection is not parallelised) and restore it.
/// </summary>
[Collection(nameof(AllocationStackCollection))]
public sealed class SkBuffLeakReportTests
{
    [Fact]
    public void APoolWithEverythingReleasedIsClean()
    {
        var pool = new SkBuffPool(name: "clean");
        pool.Rent().Consume();
        pool.Rent().Drop(DropReason.NotSpecified);

        var report = pool.CheckLeaks();

        Assert.True(report.IsClean);
        Assert.Equal(0, report.LeakedCount);
        Assert.Equal("clean: no SkBuff leaked", report.ToString());
    }

    [Fact]
    public void LeakedFramesAreCountedAndTheReportSaysHowToFindThem()
    {
        using var setting = AllocationStackSetting.Set(false);
        var pool = new SkBuffPool(name: "rx queue 3");
        pool.Rent();
        pool.Rent();
        pool.Rent().Consume();

        var report = pool.CheckLeaks();

        Assert.False(report.IsClean);
        Assert.Equal("rx queue 3", report.PoolName);
        Assert.Equal(2, report.LeakedCount);
        Assert.Empty(report.AllocationStacks);
        Assert.Contains("2 SkBuff(s) never released", report.ToString(), StringComparison.Ordinal);
        Assert.Contains("NETDEV_SKB_DEBUG=1", report.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void WithAllocationStacksOnTheReportSaysWhereLeakedFramesWereRented()
    {
        using var setting = AllocationStackSetting.Set(true);
        var pool = new SkBuffPool(name: "debug");
        RentAndForget(pool);
        pool.Rent().Consume(); // a released frame's stack is not reported

        var report = pool.CheckLeaks();

        Assert.Equal(1, report.LeakedCount);
        var stack = Assert.Single(report.AllocationStacks);
        Assert.Contains(nameof(RentAndForget), stack, StringComparison.Ordinal);
        Assert.Contains(nameof(RentAndForget), report.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void AStackCapturedForAReleasedFrameIsNotKeptWhenItsBufferIsRentedAgain()
    {
        var pool = new SkBuffPool(name: "reuse");
        using (AllocationStackSetting.Set(true))
        {
            pool.Rent().Consume();
        }
        using (AllocationStackSetting.Set(false))
        {
            pool.Rent(); // leaked, in the buffer that had a stack
        }

        var report = pool.CheckLeaks();

        Assert.Equal(1, report.LeakedCount);
        Assert.Empty(report.AllocationStacks);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void RentAndForget(SkBuffPool pool) => pool.Rent();
}

/// <summary>Tests that change <see cref="SkBuffPool.CaptureAllocationStacks"/>: they run alone, one at a time.</summary>
[CollectionDefinition(nameof(AllocationStackCollection), DisableParallelization = true)]
public sealed class AllocationStackCollection;

/// <summary>Sets <see cref="SkBuffPool.CaptureAllocationStacks"/> until disposed, then restores it.</summary>
public sealed class AllocationStackSetting : IDisposable
{
    private readonly bool _previous = SkBuffPool.CaptureAllocationStacks;

    private AllocationStackSetting(bool value) => SkBuffPool.CaptureAllocationStacks = value;

    public static AllocationStackSetting Set(bool value) => new(value);

    public void Dispose() => SkBuffPool.CaptureAllocationStacks = _previous;
}
