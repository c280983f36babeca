using System.Runtime.ExceptionServices;

namespace NetDev;

/// <summary>
/// The device's receive side: frames a driver hands to the system's stack, one at a time
/// (<see cref="NetifRx"/>) or a NAPI poll's worth at once (<see cref="NetifReceiveBatch(ReadOnlySpan{SkBuff}, int)"/>).
/// </summary>
/// <remarks>
/// <para>A batch goes to the host in runs of one queue's frames, whole: only a host that needs smaller
/// pieces cuts them (the Linux host's io_uring writer, <see cref="ReceiveBatchSize"/> writes per
/// submission). The host writes each frame's outcome straight into one buffer — the caller's, or the
/// calling thread's when the caller wants none — and a frame the host did not take in its batch goes
/// through <see cref="Hosting.IHostLink.DeliverToSystem"/> here, the one frame-by-frame fallback.</para>
/// <para><b>Invariants.</b> <c>t_outcomes</c> is touched only by its own thread, inside one
/// <see cref="ReceiveBatch"/> call at a time (nothing it calls receives again on the same thread).</para>
/// </remarks>
public abstract partial class NetDevice
{
    /// <summary>
    /// Frames of one receive batch: <see cref="NetifReceiveBatch(ReadOnlySpan{SkBuff}, int)"/>'s default budget
    /// (a NAPI budget), the most frames a driver that batches on its own (the pair) holds, and what the
    /// Linux host hands the kernel with one system call.
    /// </summary>
    public const int ReceiveBatchSize = 64;

    // The outcomes of a batch whose caller did not ask for them; grown to the longest batch the thread saw.
    [ThreadStatic]
    private static DropReason?[]? t_outcomes;

    /// <summary>
    /// Takes an empty frame for receiving on <paramref name="queue"/> (<c>netdev_alloc_skb</c>): room for
    /// an MTU-sized frame with its link header, headroom reserved, <see cref="SkBuff.QueueIndex"/> set.
    /// </summary>
    public SkBuff AllocSkb(int queue = 0)
    {
        var skb = _queues[queue].RxPool.Rent(SkBuffPool.DefaultHeadroom + MaxFrameLength);
        skb.QueueIndex = queue;
        return skb;
    }

    /// <summary>
    /// Hands a received frame to the system's stack on its <see cref="SkBuff.QueueIndex"/> queue
    /// (<c>netif_rx</c>). Ownership passes to the framework, which counts the frame and releases it:
    /// consumed when delivered, dropped with a reason when not (device down, queue full).
    /// </summary>
    /// <returns>Whether the system took the frame.</returns>
    /// <remarks>When the host throws, the frame is dropped as <see cref="DropReason.TransmitError"/> and the exception passes on.</remarks>
    public bool NetifRx([TakesOwnership] SkBuff skb)
    {
        var queueIndex = skb.QueueIndex;
        if ((uint)queueIndex >= (uint)_queues.Length)
        {
            skb.Drop(DropReason.NotSpecified);
            throw new ArgumentOutOfRangeException(nameof(skb), queueIndex, $"{Name} has {_queues.Length} queues; the frame's QueueIndex is {queueIndex}.");
        }
        if (_link is not { } link || !Volatile.Read(ref _up))
        {
            skb.Drop(DropReason.DeviceDown);
            return false;
        }
        DropReason? outcome;
        try
        {
            outcome = link.DeliverToSystem(queueIndex, skb);
        }
        catch
        {
            skb.Drop(DropReason.TransmitError);
            throw;
        }
        Settle(_queues[queueIndex], skb, outcome);
        return outcome is null;
    }

    /// <summary>
    /// Hands a batch of received frames to the system (a NAPI poll's worth, <c>netif_receive_skb_list</c>):
    /// at most <paramref name="budget"/> of them, in order; ownership of those passes as with
    /// <see cref="NetifRx"/>, each frame counted and consumed when delivered or dropped with a reason when
    /// not. Consecutive frames of one queue go to the host together, so a host that can write many frames
    /// with one system call (the Linux host does, through io_uring) does; this is the fast way to receive.
    /// </summary>
    /// <returns>How many frames were taken from <paramref name="frames"/> (delivered or dropped); the rest stay the caller's.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A frame's <see cref="SkBuff.QueueIndex"/> is not a queue of
    /// this device; thrown after the batch, whose frames are all taken (that one dropped).</exception>
    /// <remarks>When the host throws, the frames it did not answer for are dropped as
    /// <see cref="DropReason.TransmitError"/>, the rest of the batch is still handed over, and the host's
    /// exception is thrown after the batch: every frame taken is released either way.</remarks>
    public int NetifReceiveBatch(ReadOnlySpan<SkBuff> frames, int budget = ReceiveBatchSize) => ReceiveBatch(frames, default, budget);

    /// <summary>
    /// As <see cref="NetifReceiveBatch(ReadOnlySpan{SkBuff}, int)"/>, and says what became of each frame:
    /// <paramref name="outcomes"/>[i] is <see langword="null"/> when frame i was delivered, otherwise the
    /// reason it was dropped. A driver that counts its own transmits (the pair) counts by these.
    /// </summary>
    /// <param name="frames">The frames; at most <paramref name="budget"/> are taken.</param>
    /// <param name="outcomes">At least as long as the frames taken.</param>
    /// <param name="budget">At most this many frames are taken.</param>
    /// <returns>How many frames were taken from <paramref name="frames"/>; the rest stay the caller's.</returns>
    /// <exception cref="ArgumentException"><paramref name="outcomes"/> is shorter than the frames taken; nothing is taken.</exception>
    public int NetifReceiveBatch(ReadOnlySpan<SkBuff> frames, Span<DropReason?> outcomes, int budget = ReceiveBatchSize)
    {
        if (outcomes.Length < Math.Min(frames.Length, budget))
        {
            throw new ArgumentException($"{Math.Min(frames.Length, budget)} frames are taken but only {outcomes.Length} outcomes fit.", nameof(outcomes));
        }
        return ReceiveBatch(frames, outcomes, budget);
    }

    /// <summary>The batch receive; <paramref name="outcomes"/> is empty when the caller does not want them.</summary>
    private int ReceiveBatch(ReadOnlySpan<SkBuff> frames, Span<DropReason?> outcomes, int budget)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(budget, 1);
        var taken = frames[..Math.Min(frames.Length, budget)];
        if (outcomes.IsEmpty)
        {
            if (t_outcomes is null || t_outcomes.Length < taken.Length)
            {
                t_outcomes = new DropReason?[Math.Max(taken.Length, ReceiveBatchSize)];
            }
            outcomes = t_outcomes;
        }
        var badQueue = -1;
        ExceptionDispatchInfo? failure = null;
        var link = _link;
        var up = link is not null && Volatile.Read(ref _up);
        var start = 0;
        while (start < taken.Length)
        {
            var queueIndex = taken[start].QueueIndex;
            var noSuchQueue = (uint)queueIndex >= (uint)_queues.Length;
            if (noSuchQueue || !up)
            {
                if (noSuchQueue && badQueue < 0)
                {
                    badQueue = queueIndex;
                }
                var reason = noSuchQueue ? DropReason.NotSpecified : DropReason.DeviceDown;
                taken[start].Drop(reason);
                outcomes[start] = reason;
                start++;
                continue;
            }
            // A run of frames for one queue goes to the host in one call.
            var end = start + 1;
            while (end < taken.Length && taken[end].QueueIndex == queueIndex)
            {
                end++;
            }
            var run = taken[start..end];
            var runOutcomes = outcomes[start..end];
            var settled = 0;
            try
            {
                for (settled = link!.DeliverBatchToSystem(queueIndex, run, runOutcomes); settled < run.Length; settled++)
                {
                    runOutcomes[settled] = link.DeliverToSystem(queueIndex, run[settled]);
                }
            }
            catch (Exception error)
            {
                // The host failed part way: what it did not answer for is dropped, counted, and the batch goes on,
                // so that no frame is left half owned. The first failure is thrown once the batch is done.
                runOutcomes[settled..].Fill(DropReason.TransmitError);
                failure ??= ExceptionDispatchInfo.Capture(error);
            }
            var queue = _queues[queueIndex];
            for (var i = 0; i < run.Length; i++)
            {
                Settle(queue, run[i], runOutcomes[i]);
            }
            start = end;
        }
        failure?.Throw();
        if (badQueue >= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(frames), badQueue, $"{Name} has {_queues.Length} queues; a frame's QueueIndex is {badQueue}.");
        }
        return taken.Length;
    }

    /// <summary>Releases a frame the host was offered: counted and consumed when it took it, dropped with its reason when not.</summary>
    private static void Settle(DeviceQueue queue, [TakesOwnership] SkBuff skb, DropReason? outcome)
    {
        if (outcome is { } reason)
        {
            skb.Drop(reason);
            return;
        }
        queue.CountRx(skb.Length);
        if (queue.Device.Captures is { } captures)
        {
            OfferToCaptures(captures, TrafficDirection.Receive, skb, dropped: null);
        }
        skb.Consume();
    }
}
