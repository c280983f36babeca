using CsCheck;

namespace NetDev.Tests.SkBuffs;

/// <summary>
/// Random sequences of layout operations, valid or not, checked step by step against a reference model
/// of the buffer: two integers for the frame's start and end and a byte array for the memory.
/// </summary>
public sealed class SkBuffLayoutProperties
{
    public enum Operation
    {
        Reserve,
        Push,
        Pull,
        Put,
        Trim,
    }

    /// <summary>One operation; <paramref name="Fill"/> seeds the bytes a Push or Put writes.</summary>
    public readonly record struct Step(Operation Operation, int Length, byte Fill)
    {
        public override string ToString() => $"{Operation}({Length})";
    }

    public sealed record Scenario(int Headroom, int BufferSize, Step[] Steps)
    {
        public override string ToString() =>
            $"pool(bufferSize: {BufferSize}, headroom: {Headroom}): {string.Join(", ", Steps)}";
    }

    private static readonly Gen<Scenario> Scenarios =
        from headroom in Gen.Int[0, 64]
        from frameRoom in Gen.Int[1, 192]
        from steps in Gen.Select(
                Gen.Enum<Operation>(),
                // Mostly small lengths, so long sequences stay mostly valid; sometimes anything near the
                // buffer's size, so the limits and negative lengths are hit too.
                Gen.Frequency((4, Gen.Int[0, 24]), (1, Gen.Int[-8, headroom + frameRoom + 8])),
                Gen.Byte,
                (operation, length, fill) => new Step(operation, length, fill))
            .Array[0, 48]
        select new Scenario(headroom, headroom + frameRoom, steps);

    [Fact]
    public void EveryStepAgreesWithTheReferenceModel() =>
        Scenarios.Sample(Run, iter: 3000, print: scenario => scenario.ToString());

    [Fact]
    public void TheModelCatchesAWrongLayout()
    {
        // The property above must be able to fail: a model that is one byte off disagrees at once.
        var pool = new SkBuffPool(64, 16);
        var skb = pool.Rent();
        var model = new LayoutModel(16, 64) { Start = 15 };

        Assert.ThrowsAny<Exception>(() => model.AssertMatches(skb));
        skb.Consume();
    }

    private static void Run(Scenario scenario)
    {
        var pool = new SkBuffPool(scenario.BufferSize, scenario.Headroom);
        var skb = pool.Rent();
        var model = new LayoutModel(scenario.Headroom, scenario.BufferSize);
        model.AssertMatches(skb);

        foreach (var step in scenario.Steps)
        {
            var expected = model.ExpectedFailure(step);
            if (expected is not null)
            {
                var error = Record.Exception(() => Apply(skb, step, model));
                Assert.NotNull(error);
                Assert.IsType(expected, error, exactMatch: true);
            }
            else
            {
                Apply(skb, step, model);
            }
            model.AssertMatches(skb);
        }

        skb.Consume();
        Assert.Equal(1, pool.ConsumedCount);
    }

    /// <summary>Applies <paramref name="step"/> to the buffer and, when the step is valid, to the model.</summary>
    private static void Apply(SkBuff skb, Step step, LayoutModel model)
    {
        var valid = model.ExpectedFailure(step) is null;
        switch (step.Operation)
        {
            case Operation.Reserve:
                skb.Reserve(step.Length);
                MustHaveThrown(valid, step);
                break;
            case Operation.Push:
                var pushed = skb.Push(step.Length);
                MustHaveThrown(valid, step);
                Assert.Equal(step.Length, pushed.Length);
                Fill(pushed, step.Fill);
                break;
            case Operation.Pull:
                var pulled = skb.Pull(step.Length);
                MustHaveThrown(valid, step);
                Assert.Equal(model.Bytes.AsSpan(model.Start, step.Length).ToArray(), pulled.ToArray());
                break;
            case Operation.Put:
                var put = skb.Put(step.Length);
                MustHaveThrown(valid, step);
                Assert.Equal(step.Length, put.Length);
                Fill(put, step.Fill);
                break;
            case Operation.Trim:
                skb.Trim(step.Length);
                MustHaveThrown(valid, step);
                break;
        }
        model.Apply(step);
    }

    /// <summary>Fails (with an assertion, never an exception the step could be expected to throw) when an invalid step succeeded.</summary>
    private static void MustHaveThrown(bool valid, Step step) =>
        Assert.True(valid, $"{step} succeeded but the model says it must throw.");

    private static void Fill(Span<byte> span, byte seed)
    {
        for (var i = 0; i < span.Length; i++)
        {
            span[i] = unchecked((byte)(seed + i * 7));
        }
    }

    /// <summary>The reference: what the layout must be, written as plainly as possible.</summary>
    private sealed class LayoutModel(int headroom, int capacity)
    {
        public int Start { get; set; } = headroom;

        public int End { get; set; } = headroom;

        public int Capacity { get; } = capacity;

        public byte[] Bytes { get; } = new byte[capacity];

        public Type? ExpectedFailure(Step step)
        {
            var n = step.Length;
            return step.Operation switch
            {
                Operation.Reserve when End != Start => typeof(InvalidOperationException),
                Operation.Reserve => n < 0 || End + n > Capacity ? typeof(ArgumentOutOfRangeException) : null,
                Operation.Push => n < 0 || n > Start ? typeof(ArgumentOutOfRangeException) : null,
                Operation.Pull or Operation.Trim => n < 0 || n > End - Start ? typeof(ArgumentOutOfRangeException) : null,
                Operation.Put => n < 0 || End + n > Capacity ? typeof(ArgumentOutOfRangeException) : null,
                _ => throw new ArgumentOutOfRangeException(nameof(step)),
            };
        }

        public void Apply(Step step)
        {
            var n = step.Length;
            switch (step.Operation)
            {
                case Operation.Reserve:
                    Start += n;
                    End += n;
                    break;
                case Operation.Push:
                    Start -= n;
                    Fill(Bytes.AsSpan(Start, n), step.Fill);
                    break;
                case Operation.Pull:
                    Start += n;
                    break;
                case Operation.Put:
                    Fill(Bytes.AsSpan(End, n), step.Fill);
                    End += n;
                    break;
                case Operation.Trim:
                    End = Start + n;
                    break;
            }
        }

        public void AssertMatches(SkBuff skb)
        {
            Assert.Equal(Capacity, skb.Capacity);
            Assert.Equal(Start, skb.Headroom);
            Assert.Equal(End - Start, skb.Length);
            Assert.Equal(Capacity - End, skb.Tailroom);
            Assert.Equal(skb.Capacity, skb.Headroom + skb.Length + skb.Tailroom);
            Assert.Equal(skb.Tailroom, skb.TailroomSpan.Length);
            Assert.Equal(Bytes.AsSpan(Start, End - Start).ToArray(), skb.Data.ToArray());
        }
    }
}
