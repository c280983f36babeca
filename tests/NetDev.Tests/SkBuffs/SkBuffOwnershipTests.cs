namespace NetDev.Tests.SkBuffs;

/// <summary>The ownership rules of a handle: released exactly once, never used afterwards, never used unallocated.</summary>
public sealed class SkBuffOwnershipTests
{
    /// <summary>Every member of <see cref="SkBuff"/> that needs a live frame, by name.</summary>
    private static readonly Dictionary<string, Action<SkBuff>> MemberUses = new()
    {
        ["Length"] = skb => _ = skb.Length,
        ["Headroom"] = skb => _ = skb.Headroom,
        ["Tailroom"] = skb => _ = skb.Tailroom,
        ["Capacity"] = skb => _ = skb.Capacity,
        ["Data"] = skb => _ = skb.Data.Length,
        ["TailroomSpan"] = skb => _ = skb.TailroomSpan.Length,
        ["Protocol get"] = skb => _ = skb.Protocol,
        ["Protocol set"] = skb => skb.Protocol = 0x0806,
        ["QueueIndex get"] = skb => _ = skb.QueueIndex,
        ["QueueIndex set"] = skb => skb.QueueIndex = 1,
        ["SoftwareTxTimestamp"] = skb => _ = skb.SoftwareTxTimestamp,
        ["TxTimestamp"] = skb => skb.TxTimestamp(),
        ["TxTimestampRequested get"] = skb => _ = skb.TxTimestampRequested,
        ["TxTimestampRequested set"] = skb => skb.TxTimestampRequested = true,
        ["Reserve"] = skb => skb.Reserve(1),
        ["Push"] = skb => skb.Push(1),
        ["Pull"] = skb => skb.Pull(0),
        ["Put"] = skb => skb.Put(1),
        ["Trim"] = skb => skb.Trim(0),
        ["ToString"] = skb => Assert.Equal("SkBuff (released)", skb.ToString()),
    };

    public static TheoryData<string> Members => [.. MemberUses.Keys.Where(name => name != "ToString")];

    [Theory]
    [MemberData(nameof(Members))]
    public void EveryMemberThrowsUseAfterReleaseOnAReleasedFrame(string member)
    {
        var pool = new SkBuffPool();
        var skb = pool.Rent();
        skb.Drop(DropReason.Filtered);

        var error = Assert.Throws<SkBuffMisuseException>(() => MemberUses[member](skb));

        Assert.Equal(SkBuffMisuse.UseAfterRelease, error.Misuse);
        Assert.Contains("Drop(Filtered)", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Members))]
    public void AStaleHandleNeitherSeesNorChangesTheFrameNowInItsBuffer(string member)
    {
        var pool = new SkBuffPool(512, 64);
        var stale = pool.Rent();
        stale.Consume();
        var current = pool.Rent();
        Assert.Equal(1, pool.Allocated); // the same storage, handed out again
        "new frame"u8.CopyTo(current.Put(9));
        current.Protocol = 0x0800;
        current.QueueIndex = 2;

        var error = Assert.Throws<SkBuffMisuseException>(() => MemberUses[member](stale));

        Assert.Equal(SkBuffMisuse.UseAfterRelease, error.Misuse);
        Assert.True(current.IsLive);
        Assert.Equal("new frame"u8.ToArray(), current.Data.ToArray());
        Assert.Equal(64, current.Headroom);
        Assert.Equal(0x0800, current.Protocol);
        Assert.Equal(2, current.QueueIndex);
        Assert.Equal(0, current.SoftwareTxTimestamp);
        current.Consume();
    }

    [Fact]
    public void AReleasedHandleSaysSoWithoutThrowing()
    {
        var skb = new SkBuffPool().Rent();
        skb.Consume();

        Assert.False(skb.IsLive);
        MemberUses["ToString"](skb);
    }

    [Fact]
    public void ConsumeThenDropIsADoubleRelease()
    {
        var pool = new SkBuffPool();
        var skb = pool.Rent();
        skb.Consume();

        var error = Assert.Throws<SkBuffMisuseException>(() => skb.Drop(DropReason.QueueFull));

        Assert.Equal(SkBuffMisuse.DoubleRelease, error.Misuse);
        Assert.Contains("Consume()", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, pool.ConsumedCount);
        Assert.Equal(0, pool.TotalDrops);
    }

    [Fact]
    public void DropTwiceIsADoubleRelease()
    {
        var pool = new SkBuffPool();
        var skb = pool.Rent();
        skb.Drop(DropReason.NoRoute);

        var error = Assert.Throws<SkBuffMisuseException>(() => skb.Drop(DropReason.NoRoute));

        Assert.Equal(SkBuffMisuse.DoubleRelease, error.Misuse);
        Assert.Contains("Drop(NoRoute)", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, pool.DropCount(DropReason.NoRoute));
    }

    [Fact]
    public void ReleasingACopyOfAReleasedHandleIsADoubleRelease()
    {
        var pool = new SkBuffPool();
        var skb = pool.Rent();
        var copy = skb;
        Assert.Equal(skb, copy);

        skb.Consume();

        Assert.False(copy.IsLive);
        Assert.Equal(SkBuffMisuse.DoubleRelease, Assert.Throws<SkBuffMisuseException>(copy.Consume).Misuse);
        Assert.Equal(SkBuffMisuse.UseAfterRelease, Assert.Throws<SkBuffMisuseException>(() => copy.Length).Misuse);
        Assert.Equal(1, pool.ConsumedCount);
    }

    [Fact]
    public void ReleasingAStaleHandleDoesNotReleaseTheFrameNowInItsBuffer()
    {
        var pool = new SkBuffPool();
        var stale = pool.Rent();
        stale.Consume();
        var current = pool.Rent();

        Assert.Equal(SkBuffMisuse.DoubleRelease, Assert.Throws<SkBuffMisuseException>(() => stale.Drop(DropReason.NotSpecified)).Misuse);
        Assert.Equal(SkBuffMisuse.DoubleRelease, Assert.Throws<SkBuffMisuseException>(stale.Consume).Misuse);

        Assert.True(current.IsLive);
        Assert.Equal(1, pool.Outstanding);
        Assert.NotEqual(stale, current);
        current.Consume();
        Assert.Equal(2, pool.ConsumedCount);
    }

    [Fact]
    public void ReturningAReleasedFrameIsADoubleRelease()
    {
        var pool = new SkBuffPool();
        var skb = pool.Rent();
        skb.Consume();

        var error = Assert.Throws<SkBuffMisuseException>(() => pool.Return(skb));

        Assert.Equal(SkBuffMisuse.DoubleRelease, error.Misuse);
        Assert.Equal(1, pool.ConsumedCount);
    }

    [Fact]
    public void ReleasingAReturnedFrameIsADoubleRelease()
    {
        var pool = new SkBuffPool();
        var skb = pool.Rent();
        pool.Return(skb);

        var error = Assert.Throws<SkBuffMisuseException>(skb.Consume);

        Assert.Equal(SkBuffMisuse.DoubleRelease, error.Misuse);
        Assert.Contains("SkBuffPool.Return()", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, pool.ConsumedCount);
    }

    [Theory]
    [MemberData(nameof(Members))]
    public void EveryMemberOfADefaultHandleThrowsNotAllocated(string member)
    {
        var error = Assert.Throws<SkBuffMisuseException>(() => MemberUses[member](default));

        Assert.Equal(SkBuffMisuse.NotAllocated, error.Misuse);
    }

    [Fact]
    public void ReleasingOrReturningADefaultHandleThrowsNotAllocated()
    {
        SkBuff skb = default;

        Assert.False(skb.IsLive);
        Assert.Equal(SkBuffMisuse.NotAllocated, Assert.Throws<SkBuffMisuseException>(skb.Consume).Misuse);
        Assert.Equal(SkBuffMisuse.NotAllocated, Assert.Throws<SkBuffMisuseException>(() => skb.Drop(DropReason.NotSpecified)).Misuse);
        Assert.Equal(SkBuffMisuse.NotAllocated, Assert.Throws<SkBuffMisuseException>(() => new SkBuffPool().Return(skb)).Misuse);
    }

    [Fact]
    public void HandlesAreEqualExactlyWhenTheyAreTheSameFrame()
    {
        var pool = new SkBuffPool();
        var first = pool.Rent();
        var copy = first;
        var other = pool.Rent();

        Assert.True(first == copy);
        Assert.Equal(first.GetHashCode(), copy.GetHashCode());
        Assert.True(first != other);
        Assert.False(first.Equals((object)other));
        Assert.True(default(SkBuff) == default(SkBuff));

        first.Consume();
        var reused = pool.Rent(); // first's storage, a new generation
        Assert.NotEqual(copy, reused);
        reused.Consume();
        other.Consume();
    }
}
