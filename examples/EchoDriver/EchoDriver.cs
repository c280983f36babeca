using NetDev;

namespace NetDev.Examples.Echo;

/// <summary>
/// Sends every frame the kernel transmits back to it, its Ethernet addresses swapped, from a receive thread
/// of its own: the whole of a driver's receive side (a bound receive pool, <see cref="NetDevice.AllocSkb"/>,
/// <see cref="NetDevice.NetifReceiveBatch(ReadOnlySpan{SkBuff}, Span{DropReason?}, int)"/> and its outcomes)
/// and of flow control (a ring that stops the queue when full, <see cref="TxResult.Busy"/>, a wake when room
/// is made). docs/first-driver.md walks through it.
/// </summary>
/// <remarks>
/// <para>Frames go from <see cref="StartXmit"/> (the queue's thread) into a ring; the echo thread takes them,
/// copies each into a fresh frame of the receive pool with the addresses swapped, releases the transmitted one
/// (its "completion") and hands the copies to the system in batches.</para>
/// <para><b>Invariants.</b> The echo thread runs only between <see cref="Open"/> and <see cref="Stop"/>; the
/// queue is closed to frames before Stop, so the ring's writer and reader are never more than one thread each.
/// <c>_refused</c> is written only by the echo thread.</para>
/// </remarks>
public sealed class EchoDriver(int ringSize = 256) : IDeviceOperations<EchoDriver>
{
    private readonly FrameRing _ring = new(ringSize);
    private readonly ManualResetEventSlim _framesReady = new();
    private readonly long[] _refused = new long[Enum.GetValues<DropReason>().Length];
    private volatile bool _stopping;
    private Thread? _echoThread;

    /// <summary>How many echoes the system refused for <paramref name="reason"/> (the batch's outcomes).</summary>
    public long RefusedEchoes(DropReason reason) => Volatile.Read(ref _refused[(int)reason]);

    public void Open(NetDevice<EchoDriver> device)
    {
        _stopping = false;
        _echoThread = new Thread(() => EchoLoop(device)) { IsBackground = true, Name = $"echo {device.Name}" };
        _echoThread.Start();
    }

    public void Stop(NetDevice<EchoDriver> device)
    {
        // The queue takes no more frames by now: the echo thread is the ring's only user.
        _stopping = true;
        _framesReady.Set();
        _echoThread?.Join();
        _echoThread = null;
        while (_ring.TryDequeue(out var skb))
        {
            skb.Drop(DropReason.DeviceDown);
        }
    }

    public TxResult StartXmit(NetDevice<EchoDriver> device, SkBuff skb)
    {
        var queue = device.Queues[skb.QueueIndex];
        if (!_ring.HasRoom)
        {
            // Only if the queue was not stopped in time: the framework keeps this frame and offers it again.
            return TxResult.Busy;
        }
        device.CountTx(skb);
        _ring.Enqueue(skb);
        // Stop when full, and look again: room the echo thread made meanwhile woke nothing.
        queue.MaybeStop(this, static driver => driver._ring.HasRoom);
        if (!queue.XmitMore)
        {
            // One wake-up per burst: while more frames follow, the echo thread is woken by the last of them.
            _framesReady.Set();
        }
        return TxResult.Ok;
    }

    private void EchoLoop(NetDevice<EchoDriver> device)
    {
        var queue = device.Queues[0];
        // This thread is the only one that rents from the receive pool: renting takes no lock.
        queue.RxPool.BindToCurrentThread();
        var batch = new SkBuff[NetDevice.ReceiveBatchSize];
        var outcomes = new DropReason?[NetDevice.ReceiveBatchSize];
        while (true)
        {
            _framesReady.Wait();
            _framesReady.Reset();
            if (_stopping)
            {
                return;
            }
            int count;
            while ((count = FillBatch(device, batch)) > 0)
            {
                // Every frame of the batch is taken: each delivered, or dropped with the system's reason.
                device.NetifReceiveBatch(batch.AsSpan(0, count), outcomes);
                CountRefused(outcomes.AsSpan(0, count));
                // Room was made: wake the queue if it is stopped and a frame fits.
                queue.MaybeWake(this, static driver => driver._ring.HasRoom);
            }
        }
    }

    /// <summary>Fills <paramref name="batch"/> with echoes of the frames in the ring; returns how many.</summary>
    private int FillBatch(NetDevice<EchoDriver> device, SkBuff[] batch)
    {
        var count = 0;
        while (count < batch.Length && _ring.TryDequeue(out var sent))
        {
            var echo = device.AllocSkb(queue: 0);
            var frame = sent.Data;
            var copy = echo.Put(frame.Length);
            frame.CopyTo(copy);
            // Back to where it came from: destination and source swapped.
            frame[..MacAddress.Length].CopyTo(copy[MacAddress.Length..(2 * MacAddress.Length)]);
            frame[MacAddress.Length..(2 * MacAddress.Length)].CopyTo(copy[..MacAddress.Length]);
            echo.Protocol = sent.Protocol;
            sent.Consume();
            batch[count++] = echo;
        }
        return count;
    }

    private void CountRefused(ReadOnlySpan<DropReason?> outcomes)
    {
        foreach (var outcome in outcomes)
        {
            if (outcome is { } reason)
            {
                _refused[(int)reason]++;
            }
        }
    }
}
