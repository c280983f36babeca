using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Logging;
using NetDev.Hosting;

namespace NetDev.Drivers.Pair;

/// <summary>
/// The pair driver, after Linux's <c>veth</c>: two devices joined back to back, so what one transmits the
/// other receives. Put the two ends in different network namespaces and they are two hosts on one wire.
/// </summary>
/// <remarks>
/// <para>A frame crosses without a copy: the buffer the system filled on one end is handed, as it is, to
/// the other end's system (<see cref="NetDevice.NetifRx"/>), its offload state (partial checksum, pending
/// segmentation) with it. Queue <c>q</c> of one end feeds receive queue
/// <c>q</c> (modulo the peer's count) of the other, so with equal queue counts each flow stays on one
/// thread end to end and the peer's receive counters of a queue have one writer.</para>
/// <para>As in veth, a frame sent while the peer is down is dropped and counted as a transmit drop
/// (<see cref="DropReason.DeviceDown"/>) on the sending end.</para>
/// <para>Frames cross in batches: while the host says another frame follows at once
/// (<see cref="DeviceQueue.XmitMore"/>) the frame is held, and the batch goes to the peer with one
/// <see cref="NetDevice.NetifReceiveBatch(ReadOnlySpan{SkBuff}, Span{DropReason?}, int)"/> — on Linux one
/// system call for the batch rather than one per frame. A frame is never held past the end of its host's
/// batch, and a batch holds at most <see cref="HoldLimit"/> frames, so what an end pins is bounded
/// (docs/reliability.md gives the formula).</para>
/// <para><b>Invariants.</b> <c>_peer</c> is set once, before either device is registered, and never
/// changes; both ends of a pair point at each other. <c>_batches[q]</c> is touched only by transmit queue
/// <c>q</c>'s thread, or by <see cref="Stop"/> once the queues are disabled; the frames it holds are live
/// and owned by the driver.</para>
/// </remarks>
public sealed class PairDriver : IDeviceOperations<PairDriver>, IDriverInfo, IEthtoolOperations<PairDriver>
{
    /// <summary>The name template of the first end.</summary>
    public const string DefaultNameTemplate = "pair%d";

    private NetDevice<PairDriver>? _peer;
    private PendingBatch[] _batches = [];

    /// <inheritdoc/>
    public string DriverName => "pair";

    /// <summary>The other end, once the pair is joined.</summary>
    public NetDevice<PairDriver>? Peer => _peer;

    /// <summary>
    /// Makes two joined pair devices: <paramref name="name"/> on <paramref name="host"/> and
    /// <paramref name="peerName"/> on <paramref name="peerHost"/> (for example Linux hosts of two network
    /// namespaces). Call <see cref="PairRegistration.Register"/> to make both interfaces exist.
    /// </summary>
    /// <param name="host">Where the first end exists.</param>
    /// <param name="name">The first end's name or template.</param>
    /// <param name="peerHost">Where the second end exists.</param>
    /// <param name="peerName">The second end's name or template.</param>
    /// <param name="queues">Queues per end.</param>
    /// <param name="loggerFactory">Where the devices log.</param>
    /// <param name="features">
    /// Offloads for both ends; by default all of them, so checksums stay partial and 64 KiB TCP segments
    /// cross the pair uncut, as on a veth. Both ends get the same, since a frame leaves one end as it came in.
    /// </param>
    public static PairRegistration Create(INetDeviceHost host, string name, INetDeviceHost peerHost, string peerName,
        int queues = 1, ILoggerFactory? loggerFactory = null, DeviceFeatures features = DeviceFeatures.All)
    {
        var first = new Registration<PairDriver>(host, queues, queues, new PairDriver(), loggerFactory);
        var second = new Registration<PairDriver>(peerHost, queues, queues, new PairDriver(), loggerFactory);
        try
        {
            Setup(first.Device, name);
            Setup(second.Device, peerName);
            first.Device.Features = features;
            second.Device.Features = features;
            first.Device.DriverData._peer = second.Device;
            second.Device.DriverData._peer = first.Device;
            return new PairRegistration(first, second);
        }
        catch
        {
            first.Dispose();
            second.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Makes <paramref name="device"/> a pair end (<c>veth_setup</c>): Ethernet defaults, a random locally
    /// administered address, any MTU the interface underneath allows.
    /// </summary>
    public static void Setup(NetDevice device, string name)
    {
        ArgumentNullException.ThrowIfNull(device);
        device.Name = name;
        device.MacAddress = MacAddress.RandomLocal();
        device.MaxMtu = 0;
    }

    /// <summary>Makes one pending batch per transmit queue.</summary>
    public void Init(NetDevice<PairDriver> device)
    {
        var batches = new PendingBatch[device.TxQueueCount];
        for (var i = 0; i < batches.Length; i++)
        {
            batches[i] = new PendingBatch();
        }
        _batches = batches;
    }

    /// <summary>
    /// The most bytes of buffer one end holds in its batches, over all its queues: with offloads a buffer
    /// is about 64 KiB, so a full batch per queue would pin 4 MiB per queue (1 GiB an end at 256 queues).
    /// </summary>
    public const int HeldBytesPerEnd = 4 * 1024 * 1024;

    /// <summary>
    /// How many frames a queue holds before it hands them over: a full batch
    /// (<see cref="NetDevice.ReceiveBatchSize"/>) while it fits the end's share of
    /// <see cref="HeldBytesPerEnd"/>, fewer for large buffers or many queues, never fewer than one.
    /// </summary>
    /// <param name="queues">The end's transmit queues.</param>
    /// <param name="bufferSize">Bytes per buffer of a transmit pool (<see cref="SkBuffPool.BufferSize"/>).</param>
    public static int HoldLimit(int queues, int bufferSize) =>
        (int)Math.Clamp(HeldBytesPerEnd / ((long)Math.Max(queues, 1) * Math.Max(bufferSize, 1)), 1, NetDevice.ReceiveBatchSize);

    /// <summary>
    /// Gives each transmit queue's pool the buffers its batch holds (<see cref="HoldLimit"/>), plus the
    /// frame its host reads ahead and one to spare, so forwarding never grows a pool once traffic flows,
    /// and an end pins at most queues × (hold + 2) × buffer size.
    /// </summary>
    public void Open(NetDevice<PairDriver> device)
    {
        foreach (var queue in device.Queues)
        {
            queue.TxPool.Reserve(HoldLimit(device.TxQueueCount, queue.TxPool.BufferSize) + 2);
        }
    }

    /// <summary>
    /// Hands the frame to the peer's system, or drops it if the peer is down (<c>veth_xmit</c>); while more
    /// frames follow at once, holds it to hand over with them.
    /// </summary>
    public TxResult StartXmit(NetDevice<PairDriver> device, SkBuff skb)
    {
        var peer = _peer;
        if (peer is null)
        {
            skb.Drop(DropReason.DeviceDown);
            return TxResult.Ok;
        }
        var queue = skb.QueueIndex;
        var batch = _batches[queue];
        if (batch.Count == 0)
        {
            // Per batch, not per end: an MTU change may have resized the buffers since the last one.
            batch.Limit = HoldLimit(device.TxQueueCount, device.Queues[queue].TxPool.BufferSize);
        }
        skb.QueueIndex = queue % peer.RxQueueCount;
        batch.Lengths[batch.Count] = skb.Length;
        batch.Frames[batch.Count++] = skb;
        if (batch.Count < batch.Limit && device.Queues[queue].XmitMore)
        {
            return TxResult.Ok;
        }
        HandOver(device, peer, queue, batch);
        return TxResult.Ok;
    }

    /// <summary>
    /// Hands over what a queue still holds (its host stopped the queue between two frames of a batch); a
    /// queue whose hand-over fails does not keep the others' frames back, and the first failure is thrown after.
    /// </summary>
    public void Stop(NetDevice<PairDriver> device)
    {
        if (_peer is not { } peer)
        {
            return;
        }
        ExceptionDispatchInfo? failure = null;
        for (var queue = 0; queue < _batches.Length; queue++)
        {
            if (_batches[queue].Count > 0)
            {
                try
                {
                    HandOver(device, peer, queue, _batches[queue]);
                }
                catch (Exception error)
                {
                    failure ??= ExceptionDispatchInfo.Capture(error);
                }
            }
        }
        failure?.Throw();
    }

    /// <summary>
    /// The peer takes the batch (a down peer drops it, as <see cref="DropReason.DeviceDown"/>); what it took
    /// counts as transmitted. The batch is empty afterwards even when the peer's system throws: the peer has
    /// then dropped what it could not deliver (counted), and the exception goes on to the host, which
    /// reports it, while the queue carries on with the next frame.
    /// </summary>
    private static void HandOver(NetDevice<PairDriver> device, NetDevice<PairDriver> peer, int queue, PendingBatch batch)
    {
        var frames = batch.Frames.AsSpan(0, batch.Count);
        try
        {
            peer.NetifReceiveBatch(frames, batch.Outcomes);
        }
        finally
        {
            var counters = device.Queues[queue];
            for (var i = 0; i < frames.Length; i++)
            {
                if (batch.Outcomes[i] is null)
                {
                    counters.CountTx(batch.Lengths[i]);
                }
            }
            frames.Clear();
            batch.Count = 0;
        }
    }

    /// <summary>Frames of one transmit queue held until the host's batch ends.</summary>
    private sealed class PendingBatch
    {
        public readonly SkBuff[] Frames = new SkBuff[NetDevice.ReceiveBatchSize];
        public readonly int[] Lengths = new int[NetDevice.ReceiveBatchSize];
        public readonly DropReason?[] Outcomes = new DropReason?[NetDevice.ReceiveBatchSize];
        public int Count;
        public int Limit = 1;
    }

    /// <summary>The peer's name and index, as <c>ethtool -S</c> on a veth shows <c>peer_ifindex</c>.</summary>
    public IEnumerable<KeyValuePair<string, long>> GetStatistics(NetDevice<PairDriver> device)
    {
        yield return new("peer_ifindex", _peer?.IfIndex ?? 0);
    }
}

/// <summary>Owns both ends of a pair: registers them together and tears them down together.</summary>
public sealed class PairRegistration : IDisposable
{
    internal PairRegistration(Registration<PairDriver> first, Registration<PairDriver> second)
    {
        First = first;
        Second = second;
    }

    /// <summary>The first end.</summary>
    public Registration<PairDriver> First { get; }

    /// <summary>The second end (the peer).</summary>
    public Registration<PairDriver> Second { get; }

    /// <summary>Registers both ends; if the second fails, the first is removed again.</summary>
    public void Register()
    {
        First.Register();
        try
        {
            Second.Register();
        }
        catch
        {
            First.Dispose();
            throw;
        }
    }

    /// <summary>Brings both ends up.</summary>
    public void BringUp()
    {
        First.Device.BringUp();
        Second.Device.BringUp();
    }

    /// <summary>Removes both ends: each is stopped before either interface goes away.</summary>
    public void Dispose()
    {
        // Stopping both first means no frame is in flight to an end that is being removed. Whatever fails,
        // both ends are still removed, and the first failure is reported afterwards.
        var failures = new List<Exception>();
        foreach (var end in new[] { First, Second })
        {
            try
            {
                if (end.IsRegistered && end.Device.IsUp)
                {
                    end.Device.BringDown();
                }
            }
            catch (Exception error)
            {
                failures.Add(error);
            }
        }
        foreach (var end in new[] { First, Second })
        {
            try
            {
                end.Dispose();
            }
            catch (Exception error)
            {
                failures.Add(error);
            }
        }
        if (failures.Count == 1)
        {
            ExceptionDispatchInfo.Throw(failures[0]);
        }
        if (failures.Count > 1)
        {
            throw new AggregateException("Removing the pair failed more than once.", failures);
        }
    }
}
