using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace NetDev.Linux.Tests;

/// <summary>Busy, StopQueue/WakeQueue and the watchdog against the real kernel.</summary>
public sealed class FlowControlTests
{
    /// <summary>
    /// Takes a few frames, then stops its queue and answers Busy; another thread wakes the queue a moment
    /// later, as a completion interrupt would.
    /// </summary>
    private sealed class SlowDriver : IDeviceOperations<SlowDriver>, IDisposable
    {
        private const int FramesPerBurst = 16;
        private readonly Thread _completion;
        private readonly ManualResetEventSlim _stopping = new();
        private NetDevice<SlowDriver>? _device;
        private int _room = FramesPerBurst;

        public SlowDriver() => _completion = new Thread(Complete) { IsBackground = true };

        public ConcurrentQueue<byte[]> Frames { get; } = new();

        public int BusyAnswers;

        public void Init(NetDevice<SlowDriver> device)
        {
            _device = device;
            _completion.Start();
        }

        public TxResult StartXmit(NetDevice<SlowDriver> device, SkBuff skb)
        {
            if (Volatile.Read(ref _room) == 0)
            {
                device.StopQueue(skb.QueueIndex);
                Interlocked.Increment(ref BusyAnswers);
                return TxResult.Busy;
            }
            Interlocked.Decrement(ref _room);
            Frames.Enqueue(skb.Data.ToArray());
            device.CountTx(skb);
            skb.Consume();
            return TxResult.Ok;
        }

        private void Complete()
        {
            while (!_stopping.Wait(1))
            {
                if (Volatile.Read(ref _room) == 0)
                {
                    Volatile.Write(ref _room, FramesPerBurst);
                    _device!.WakeQueue(0);
                }
            }
        }

        public void Dispose()
        {
            _stopping.Set();
            _completion.Join();
        }
    }

    [Fact]
    public void BusyAndStopWakeLoseNoFrameWithoutACountedDrop()
    {
        using var ns = new TestNamespace();
        var driver = new SlowDriver();
        using var registration = new Registration<SlowDriver>(ns.Host, 1, 1, driver);
        registration.Device.Name = "ndslow0";
        registration.Device.Flags = DeviceFlags.NoArp;
        registration.Device.TxQueueLength = 64; // a short kernel queue, so some frames are dropped there, and counted
        registration.Register();
        registration.Device.BringUp();
        ns.Ip("addr add 10.202.0.1/24 dev ndslow0");

        const int sent = 3000;
        NetworkNamespace.Run(ns.Name, () =>
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            var target = new IPEndPoint(IPAddress.Parse("10.202.0.2"), 7777);
            var payload = new byte[64];
            for (var sequence = 0; sequence < sent; sequence++)
            {
                BinaryPrimitives.WriteInt32BigEndian(payload, sequence);
                socket.SendTo(payload, target);
            }
        });

        // Every datagram is either at the driver or in a drop counter: the kernel's or the framework's.
        Wait.Until(() => Sequences(driver).Count + KernelTxDropped(ns, "ndslow0") + registration.Device.GetStats().TxDropped >= sent,
            "every datagram accounted for", seconds: 30);
        var sequences = Sequences(driver);
        Assert.Equal(sent, sequences.Count + KernelTxDropped(ns, "ndslow0") + registration.Device.GetStats().TxDropped);
        Assert.Equal(sequences.Count, sequences.Distinct().Count());
        // A refused frame is retried before any later one: order is kept.
        Assert.True(sequences.Zip(sequences.Skip(1)).All(pair => pair.First < pair.Second), "frames were reordered");
        Assert.True(driver.BusyAnswers > 0, "the driver never pushed back; the test proved nothing");
        Assert.True(registration.Device.Queues[0].BusyReturns > 0);
        driver.Dispose();
    }

    /// <summary>Stops its queue on the first frame and only wakes it when the watchdog calls TxTimeout.</summary>
    private sealed class StallingDriver : IDeviceOperations<StallingDriver>
    {
        private bool _stalled;
        private bool _reset;

        public ConcurrentQueue<byte[]> Frames { get; } = new();

        public ConcurrentQueue<int> Timeouts { get; } = new();

        public TxResult StartXmit(NetDevice<StallingDriver> device, SkBuff skb)
        {
            if (!_stalled)
            {
                _stalled = true;
                device.StopQueue(skb.QueueIndex);
                return TxResult.Busy;
            }
            Frames.Enqueue(skb.Data.ToArray());
            skb.Consume();
            return TxResult.Ok;
        }

        public void TxTimeout(NetDevice<StallingDriver> device, int queue)
        {
            Timeouts.Enqueue(queue);
            _reset = true;
            device.WakeQueue(queue);
        }

        public bool WasReset => _reset;
    }

    [Fact]
    public void QueueStoppedLongerThanTheWatchdogTimeCallsTxTimeoutAndTheRefusedFrameIsRetried()
    {
        using var ns = new TestNamespace();
        var driver = new StallingDriver();
        using var registration = new Registration<StallingDriver>(ns.Host, 1, 1, driver);
        registration.Device.Name = "ndwdog0";
        registration.Device.Flags = DeviceFlags.NoArp;
        registration.Device.WatchdogTimeout = TimeSpan.FromMilliseconds(300);
        registration.Register();
        registration.Device.BringUp();
        ns.Ip("addr add 10.203.0.1/24 dev ndwdog0");

        NetworkNamespace.Run(ns.Name, () =>
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.SendTo("first"u8.ToArray(), new IPEndPoint(IPAddress.Parse("10.203.0.2"), 7777));
        });

        Wait.Until(() => !driver.Frames.IsEmpty, "the refused frame delivered after the watchdog");
        Assert.Equal([0], driver.Timeouts);
        Assert.True(driver.WasReset);
        Assert.EndsWith("first", System.Text.Encoding.ASCII.GetString(driver.Frames.First()));
        Assert.Equal(1, registration.Device.Queues[0].Timeouts);
    }

    [Fact]
    public void QueueStoppedFromAnotherThreadWithNoTrafficStillGetsItsTxTimeout()
    {
        using var ns = new TestNamespace();
        var driver = new RecordingDriver();
        using var registration = new Registration<RecordingDriver>(ns.Host, 1, 1, driver);
        registration.Device.Name = "ndwdog1";
        registration.Device.WatchdogTimeout = TimeSpan.FromMilliseconds(300);
        registration.Register();
        registration.Device.BringUp();

        // As a driver's completion thread would when its ring fills, with nothing queued behind it.
        var stopper = new Thread(() => registration.Device.StopQueue(0));
        stopper.Start();
        stopper.Join();

        Wait.Until(() => !driver.TimedOutQueues.IsEmpty, "TxTimeout for the idle stopped queue");
        Assert.Equal([0], driver.TimedOutQueues);
        Wait.Until(() => !registration.Device.Queues[0].IsStopped, "the driver woke the queue in TxTimeout");
    }

    private static List<int> Sequences(SlowDriver driver) => driver.Frames
        .Where(f => f.Length >= 14 + 20 + 8 + 4 && BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(12)) == 0x0800 && f[14 + 9] == 17)
        .Select(f => BinaryPrimitives.ReadInt32BigEndian(f.AsSpan(14 + (f[14] & 0x0F) * 4 + 8)))
        .ToList();

    private static long KernelTxDropped(TestNamespace ns, string device)
    {
        using var document = JsonDocument.Parse(ns.Ip($"-s -j link show dev {device}"));
        return document.RootElement[0].GetProperty("stats64").GetProperty("tx").GetProperty("dropped").GetInt64();
    }
}
