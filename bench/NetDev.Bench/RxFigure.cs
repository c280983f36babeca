namespace NetDev.Bench;

/// <summary>
/// The rx path: frames per second a driver hands to the kernel with <see cref="NetDevice.NetifRx"/> from
/// a tight loop (AllocSkb → copy the frame in → NetifRx → TAP write), against <c>tapwrite</c>, a C loop
/// writing the same 60-byte frame (<see cref="TestFrame"/>) to a TAP. The kernel counts what it received
/// (rx_packets of the interface).
/// </summary>
internal sealed class RxFigure(BenchContext context)
{
    private const string NetDevName = "nd0";
    private const string BaselineName = "w0";

    // A NAPI poll's budget: frames a driver's receive loop hands over at once.
    private const int Batch = 64;

    public void Run()
    {
        var sandbox = context.Sandbox;
        context.Log("== rx");
        var ns = sandbox.CreateNamespace("rx");
        var registration = sandbox.Track(new Registration<ReceiveLoopDriver>(BenchContext.Host(ns), 1, 1, new ReceiveLoopDriver()));
        registration.Device.Name = NetDevName;
        registration.Register();
        context.Watch(registration.Device);
        registration.Device.BringUp();
        Tool.Ip(ns, "link", "set", "dev", NetDevName, "txqueuelen", "1000");
        var frame = TestFrame.Build();

        var batched = new List<RateWindow>();
        var single = new List<RateWindow>();
        var baseline = new List<RateWindow>();
        for (var run = 0; run < context.Options.Runs; run++)
        {
            // Each run measures the three sides back to back, in an order that alternates run by run.
            Action[] sides =
            [
                () => batched.Add(NetDevWindow(ns, registration.Device, frame, Batch)),
                () => single.Add(NetDevWindow(ns, registration.Device, frame, 1)),
                () => baseline.Add(BaselineWindow(ns, frame)),
            ];
            if (run % 2 == 1)
            {
                Array.Reverse(sides);
            }
            foreach (var side in sides)
            {
                side();
            }
            context.Log($"   run {run + 1}: NetDev batched {Units.FramesPerSecond(batched[^1].FramesPerSecond)}, "
                + $"NetDev one by one {Units.FramesPerSecond(single[^1].FramesPerSecond)}, C {Units.FramesPerSecond(baseline[^1].FramesPerSecond)}");
        }
        sandbox.Remove(registration);
        sandbox.DeleteNamespace(ns);

        context.Results.Add(new Comparison($"rx frames/s, 60-byte frames, 1 queue (NetifReceiveBatch, {Batch} per batch)", "C write loop",
            Units.FramesPerSecond, [.. batched.Select(w => w.FramesPerSecond)], [.. baseline.Select(w => w.FramesPerSecond)], Target.AtLeast(1.0)));
        context.Results.Add(new Comparison("CPU time per frame, rx, batched", "C write loop", Units.Nanoseconds,
            [.. batched.Select(w => w.CpuNanosecondsPerFrame)], [.. baseline.Select(w => w.CpuNanosecondsPerFrame)], null,
            "CPU time of the writing thread (the receive loop; tapwrite) over frames the kernel received, kernel time included"));
        context.Results.Add(new Comparison("rx frames/s, 60-byte frames, 1 queue (NetifRx, one frame per call)", "C write loop",
            Units.FramesPerSecond, [.. single.Select(w => w.FramesPerSecond)], [.. baseline.Select(w => w.FramesPerSecond)], null,
            "one write per frame, as the C loop: the cost of the framework itself, without batching"));
        context.Results.Add(new Comparison("CPU time per frame, rx, one frame per call", "C write loop", Units.Nanoseconds,
            [.. single.Select(w => w.CpuNanosecondsPerFrame)], [.. baseline.Select(w => w.CpuNanosecondsPerFrame)], null,
            "CPU time of the writing thread (the receive loop; tapwrite) over frames the kernel received, kernel time included"));
        Allocation.Report(context, "rx path, batched", [.. batched.Select(w => w.AllocatedBytesPerFrame ?? double.NaN)]);
        Allocation.Report(context, "rx path, one frame per call", [.. single.Select(w => w.AllocatedBytesPerFrame ?? double.NaN)]);
    }

    private RateWindow NetDevWindow(string ns, NetDevice<ReceiveLoopDriver> device, byte[] frame, int batch)
    {
        using var loop = ReceiveLoop.Start(device, frame, batch);
        var window = RateWindow.Measure(context, ns, NetDevName, counters => counters.RxPackets, counters => counters.RxDropped,
            () => CpuTime.OfOwnThreads(ReceiveLoop.ThreadName), () => device.Queues[0].RxPackets);
        loop.Stop();
        return window;
    }

    private RateWindow BaselineWindow(string ns, byte[] frame)
    {
        // One writer per window: it starts writing when told, and its TAP goes away with it.
        var writer = context.Sandbox.StartBaseline(context.Baselines.TapWrite,
            ["--netns", ns, "--name", BaselineName, "--frame", TestFrame.Hex(frame)], "tapwrite", writableInput: true);
        try
        {
            writer.WaitForLine("ready", TimeSpan.FromSeconds(10), context.Cancellation);
            Tool.Ip(ns, "link", "set", "dev", BaselineName, "mtu", "1500", "txqueuelen", "1000", "up");
            writer.WriteLine("go");
            var window = RateWindow.Measure(context, ns, BaselineName, counters => counters.RxPackets, counters => counters.RxDropped,
                () => CpuTime.OfProcess(writer.Id), null);
            if (writer.HasExited)
            {
                throw new BenchException($"tapwrite ended during a window: {writer.Errors}");
            }
            return window;
        }
        finally
        {
            context.Sandbox.Stop(writer);
        }
    }
}

/// <summary>
/// The driver of the rx figure. Its receive side is <see cref="ReceiveLoop"/>; frames the system sends on
/// it (none are expected: IPv6 is off in the bench's namespaces and nothing is routed there) are consumed.
/// </summary>
internal sealed class ReceiveLoopDriver : IDeviceOperations<ReceiveLoopDriver>
{
    public TxResult StartXmit(NetDevice<ReceiveLoopDriver> device, SkBuff skb)
    {
        device.CountTx(skb);
        skb.Consume();
        return TxResult.Ok;
    }
}

/// <summary>
/// A thread that hands one frame after another to the system, as a driver's receive loop does when its
/// hardware (here: a memory copy) always has a frame ready: AllocSkb, copy, NetifRx.
/// </summary>
/// <remarks><b>Invariants.</b> Only the loop's thread rents from and releases to queue 0's receive pool,
/// which it binds to itself, so every rental takes the pool's lock-free path.</remarks>
internal sealed class ReceiveLoop : IDisposable
{
    public const string ThreadName = "bench rx loop";

    private readonly NetDevice _device;
    private readonly byte[] _frame;
    private readonly SkBuff[] _batch;
    private readonly Thread _thread;
    private volatile bool _stopping;
    private Exception? _failure;

    private ReceiveLoop(NetDevice device, byte[] frame, int batch)
    {
        _device = device;
        _frame = frame;
        _batch = new SkBuff[batch];
        _thread = new Thread(Loop) { IsBackground = true, Name = ThreadName };
    }

    /// <summary>Starts the loop: with <paramref name="batch"/> 1 it calls NetifRx per frame, otherwise NetifReceiveBatch per batch.</summary>
    public static ReceiveLoop Start(NetDevice device, byte[] frame, int batch)
    {
        var loop = new ReceiveLoop(device, frame, batch);
        loop._thread.Start();
        return loop;
    }

    /// <summary>Ends the loop; throws what made it fail, if anything did.</summary>
    public void Stop()
    {
        _stopping = true;
        _thread.Join();
        if (_failure is not null)
        {
            throw new BenchException($"the rx loop failed: {_failure.Message}", _failure);
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _thread.Join();
    }

    private void Loop()
    {
        try
        {
            _device.Queues[0].RxPool.BindToCurrentThread();
            var frame = _frame.AsSpan();
            var batch = _batch.AsSpan();
            while (!_stopping)
            {
                if (batch.Length == 1)
                {
                    var skb = _device.AllocSkb(0);
                    frame.CopyTo(skb.Put(frame.Length));
                    _device.NetifRx(skb);
                    continue;
                }
                for (var i = 0; i < batch.Length; i++)
                {
                    batch[i] = _device.AllocSkb(0);
                    frame.CopyTo(batch[i].Put(frame.Length));
                }
                _device.NetifReceiveBatch(batch, batch.Length);
            }
        }
        catch (Exception error)
        {
            _failure = error;
        }
    }
}
