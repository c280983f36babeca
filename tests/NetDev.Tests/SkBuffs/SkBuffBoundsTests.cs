using System.Diagnostics;

namespace NetDev.Tests.SkBuffs;

/// <summary>The layout arithmetic of one buffer: every operation within bounds works, every other one throws and changes nothing.</summary>
public sealed class SkBuffBoundsTests
{
    private const int BufferSize = 256;
    private const int PoolHeadroom = 32;

    private readonly SkBuffPool _pool = new(BufferSize, PoolHeadroom, "bounds");

    [Fact]
    public void FreshBufferHasThePoolsLayout()
    {
        var skb = _pool.Rent();

        Assert.True(skb.IsLive);
        Assert.Equal(BufferSize, skb.Capacity);
        Assert.Equal(PoolHeadroom, skb.Headroom);
        Assert.Equal(0, skb.Length);
        Assert.Equal(BufferSize - PoolHeadroom, skb.Tailroom);
        Assert.Equal(0, skb.Data.Length);
        Assert.Equal(skb.Tailroom, skb.TailroomSpan.Length);
        Assert.Equal(0, skb.Protocol);
        Assert.Equal(0, skb.QueueIndex);
        Assert.Equal(0, skb.SoftwareTxTimestamp);
        skb.Consume();
    }

    [Fact]
    public void PutThenPushReadsBackHeaderBeforePayload()
    {
        var skb = _pool.Rent();
        "payload"u8.CopyTo(skb.Put(7));
        "hdr:"u8.CopyTo(skb.Push(4));

        Assert.Equal("hdr:payload"u8.ToArray(), skb.Data.ToArray());
        Assert.Equal(PoolHeadroom - 4, skb.Headroom);
        Assert.Equal(11, skb.Length);
        Assert.Equal(BufferSize - PoolHeadroom - 7, skb.Tailroom);
        skb.Consume();
    }

    [Fact]
    public void PullReturnsTheRemovedBytesAndTrimCutsTheEnd()
    {
        var skb = _pool.Rent();
        "0123456789"u8.CopyTo(skb.Put(10));

        var removed = skb.Pull(3);
        Assert.Equal("012"u8.ToArray(), removed.ToArray());
        Assert.Equal("3456789"u8.ToArray(), skb.Data.ToArray());
        Assert.Equal(PoolHeadroom + 3, skb.Headroom);

        skb.Trim(4);
        Assert.Equal("3456"u8.ToArray(), skb.Data.ToArray());
        Assert.Equal(BufferSize - PoolHeadroom - 7, skb.Tailroom);
        skb.Consume();
    }

    [Fact]
    public void BytesFilledInTheTailroomBecomeTheFrameWhenPut()
    {
        // A host reads straight into TailroomSpan and then claims what it read.
        var skb = _pool.Rent();
        "frame"u8.CopyTo(skb.TailroomSpan);
        skb.Put(5);

        Assert.Equal("frame"u8.ToArray(), skb.Data.ToArray());
        skb.Consume();
    }

    [Fact]
    public void ReserveMovesAnEmptyFrameForward()
    {
        var skb = _pool.Rent();
        skb.Reserve(16);

        Assert.Equal(PoolHeadroom + 16, skb.Headroom);
        Assert.Equal(0, skb.Length);
        Assert.Equal(BufferSize - PoolHeadroom - 16, skb.Tailroom);
        skb.Consume();
    }

    [Fact]
    public void OperationsExactlyAtTheLimitSucceed()
    {
        var skb = _pool.Rent();
        skb.Reserve(0);
        skb.Put(skb.Tailroom);
        Assert.Equal(0, skb.Tailroom);
        skb.Push(skb.Headroom);
        Assert.Equal(0, skb.Headroom);
        Assert.Equal(BufferSize, skb.Length);
        skb.Pull(skb.Length);
        Assert.Equal(0, skb.Length);
        Assert.Equal(BufferSize, skb.Headroom);
        skb.Trim(0);
        skb.Consume();
    }

    [Fact]
    public void ReserveOnAFrameThatHoldsDataThrowsAndChangesNothing()
    {
        var skb = _pool.Rent();
        "abc"u8.CopyTo(skb.Put(3));
        var before = Layout.Of(skb);

        Assert.Throws<InvalidOperationException>(() => skb.Reserve(1));
        Assert.Throws<InvalidOperationException>(() => skb.Reserve(0));

        Assert.Equal(before, Layout.Of(skb));
        skb.Consume();
    }

    public static TheoryData<string, int> OutOfBounds => new()
    {
        // Every operation, one past its limit and negative; the limits are those of Prepared().
        { "Reserve", BufferSize - PoolHeadroom + 1 },
        { "Reserve", -1 },
        { "Push", PoolHeadroom + 1 },
        { "Push", -1 },
        { "Push", int.MinValue },
        { "Put", BufferSize - PoolHeadroom + 1 },
        { "Put", -1 },
        { "Put", int.MaxValue },
        { "Pull", 1 },
        { "Pull", -1 },
        { "Trim", 1 },
        { "Trim", -1 },
        { "PullNonEmpty", 11 },
        { "PullNonEmpty", -1 },
        { "TrimNonEmpty", 11 },
        { "TrimNonEmpty", -5 },
        { "PutNonEmpty", BufferSize - PoolHeadroom - 10 + 1 },
    };

    [Theory]
    [MemberData(nameof(OutOfBounds))]
    public void OutOfBoundsThrowsArgumentOutOfRangeAndChangesNothing(string operation, int length)
    {
        var skb = _pool.Rent();
        if (operation.EndsWith("NonEmpty", StringComparison.Ordinal))
        {
            "0123456789"u8.CopyTo(skb.Put(10));
        }
        var before = Layout.Of(skb);

        Action call = operation.Replace("NonEmpty", "", StringComparison.Ordinal) switch
        {
            "Reserve" => () => skb.Reserve(length),
            "Push" => () => skb.Push(length),
            "Put" => () => skb.Put(length),
            "Pull" => () => skb.Pull(length),
            "Trim" => () => skb.Trim(length),
            _ => throw new UnreachableException(operation),
        };
        var error = Assert.Throws<ArgumentOutOfRangeException>(call);

        Assert.Equal("length", error.ParamName);
        Assert.Equal(length, error.ActualValue);
        Assert.Equal(before, Layout.Of(skb));
        skb.Consume();
    }

    [Fact]
    public void ProtocolAndQueueIndexAreKeptAndQueueIndexMustNotBeNegative()
    {
        var skb = _pool.Rent();
        skb.Protocol = 0x86DD;
        skb.QueueIndex = 3;

        Assert.Throws<ArgumentOutOfRangeException>(() => skb.QueueIndex = -1);

        Assert.Equal(0x86DD, skb.Protocol);
        Assert.Equal(3, skb.QueueIndex);
        skb.Consume();
    }

    [Fact]
    public void TxTimestampReadsNoClockUnlessSomeoneAskedForIt()
    {
        var skb = _pool.Rent();
        Assert.False(skb.TxTimestampRequested);
        skb.TxTimestamp();

        Assert.Equal(0, skb.SoftwareTxTimestamp);
        skb.Consume();
    }

    [Fact]
    public void TxTimestampRecordsTheMonotonicClockWhenRequested()
    {
        var skb = _pool.Rent();
        skb.TxTimestampRequested = true;
        var before = Stopwatch.GetTimestamp();
        skb.TxTimestamp();
        var after = Stopwatch.GetTimestamp();

        Assert.InRange(skb.SoftwareTxTimestamp, before, after);
        skb.Consume();
    }

    [Fact]
    public void ARentedAgainBufferStartsClean()
    {
        var pool = new SkBuffPool(BufferSize, PoolHeadroom);
        var first = pool.Rent();
        "junk"u8.CopyTo(first.Put(4));
        first.Push(8);
        first.Protocol = 0x0800;
        first.QueueIndex = 2;
        first.TxTimestampRequested = true;
        first.TxTimestamp();
        first.Consume();

        var second = pool.Rent();

        Assert.Equal(1, pool.Allocated);
        Assert.Equal(PoolHeadroom, second.Headroom);
        Assert.Equal(0, second.Length);
        Assert.Equal(0, second.Protocol);
        Assert.Equal(0, second.QueueIndex);
        Assert.Equal(0, second.SoftwareTxTimestamp);
        Assert.False(second.TxTimestampRequested);
        second.Consume();
    }

    /// <summary>Everything observable about a live buffer's layout and contents.</summary>
    private sealed record Layout(int Headroom, int Length, int Tailroom, int Capacity, string Bytes)
    {
        public static Layout Of(SkBuff skb) =>
            new(skb.Headroom, skb.Length, skb.Tailroom, skb.Capacity, Convert.ToHexString(skb.Data));
    }
}
