using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace NetDev.Linux.Tests;

/// <summary>
/// A driver that throws at random from every operation, driven against the kernel with traffic, link flaps
/// and configuration changes: the device must survive (its threads alive, healthy), account for every frame
/// the kernel handed over, and tear down without a leak or a hang. The seed is in every failure's message;
/// <c>NETDEV_FAULT_SEED=N</c> replays it.
/// </summary>
public sealed class FaultInjectionTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void ADriverThrowingAtRandomFromEveryOperationLeavesTheDeviceAliveAndEveryFrameAccounted(int queues)
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("NETDEV_FAULT_SEED"), out var fixedSeed) ? fixedSeed : Random.Shared.Next();
        try
        {
            Run(seed, queues);
        }
        catch (Exception error)
        {
            throw new InvalidOperationException($"fault injection with seed {seed} (NETDEV_FAULT_SEED={seed} replays it): {error.Message}", error);
        }
    }

    private static void Run(int seed, int queues)
    {
        using var ns = new TestNamespace();
        var driver = new FaultyDriver(seed);
        var registration = new Registration<FaultyDriver>(ns.Host, queues, queues, driver);
        var disposed = false;
        try
        {
            var device = registration.Device;
            device.Name = "ndfault0";
            device.Flags = DeviceFlags.NoArp;
            device.MaxMtu = 9000;
            device.WatchdogTimeout = TimeSpan.FromMilliseconds(200);
            registration.Register();
            Retry(device.BringUp);
            var random = new Random(seed);
            var ifIndex = device.IfIndex;
            var mac = device.MacAddress;

            using var stop = new CancellationTokenSource();
            var traffic = new Thread(() => Send(ns.Name, ifIndex, mac, seed, stop.Token)) { IsBackground = true, Name = "fault traffic" };
            traffic.Start();
            for (var step = 0; step < 40; step++)
            {
                Change(ns, device, random);
                // Paced by the traffic itself: the next change comes once frames flowed (or cannot flow: down, no carrier).
                var calls = driver.StartXmitCalls;
                Wait.Until(() => driver.StartXmitCalls > calls + 20 || !device.Flags.HasFlag(DeviceFlags.Up) || !device.Carrier, "traffic reaching the driver");
            }
            stop.Cancel();
            Assert.True(traffic.Join(TimeSpan.FromSeconds(60)), "the traffic thread ended");

            // Traffic has stopped. A frame the poll source read ahead while its queue was stopped stays with the
            // source until the queue runs again, though the kernel counted it as handed over: run the device
            // (faults off, so that Open lets it) and everything must end delivered or dropped by reason.
            driver.Injecting = false;
            Retry(device.BringUp);
            ns.Ip("link set dev ndfault0 carrier on");   // a carrier turned off at random lets no frame through
            // Traffic has stopped: whatever is still on its way reaches the driver or a counted drop.
            Wait.Until(() => Accounted(ns, device, driver).Balanced, "every frame the kernel handed over accounted: " + Accounted(ns, device, driver)
                + $", drops {string.Join(", ", device.GetDropCounts())}, stopped queues [{string.Join(", ", device.Queues.Where(q => q.IsStopped).Select(q => q.Index))}], timeouts [{string.Join(", ", device.Queues.Select(q => q.Timeouts))}], flags {device.Flags}, carrier {device.Carrier}, TxTimeout calls {driver.TxTimeouts}, faults {driver.Faults}");
            var accounted = Accounted(ns, device, driver);
            Assert.True(accounted.HandedOver > 0, "no frame reached the device");
            Assert.True(driver.InjectedFaults > 0, "no fault was injected");
            Assert.Equal(driver.ThrewBeforeRelease, device.GetDropCounts().Where(d => d.Direction == TrafficDirection.Transmit && d.Reason == DropReason.TransmitError).Sum(d => d.Count));
            Assert.Equal(DeviceHealth.Healthy, device.Health);
            Assert.True(device.ErrorCount >= driver.StartXmitFaults, $"{device.ErrorCount} errors reported, {driver.StartXmitFaults} StartXmit faults");

            // Still working, faults on again, and torn down with them.
            driver.Injecting = true;
            var before = driver.StartXmitCalls;
            Wait.Until(() =>
            {
                SendOne(ns.Name, ifIndex, mac, 100);
                return driver.StartXmitCalls > before;
            }, $"a frame reaching the driver after the faults (device flags {device.Flags}, kernel flags {ns.Link("ndfault0")?.GetProperty("flags")})");

            var teardown = Task.Run(() =>
            {
                try
                {
                    registration.Dispose();
                }
                catch (InjectedFault)
                {
                    // A Stop or Uninit that throws is the driver's failure to report; the teardown still completes.
                }
            });
            Assert.True(teardown.Wait(TimeSpan.FromSeconds(60)), "teardown did not end");
            disposed = true;
            Assert.Empty(registration.Leaks);
            Assert.Null(ns.Link("ndfault0"));
        }
        finally
        {
            if (!disposed)
            {
                driver.Injecting = false;
                registration.Dispose();
            }
        }
    }

    /// <summary>One change a user or the system might make, picked at random; a refusal by the driver is expected.</summary>
    private static void Change(TestNamespace ns, NetDevice<FaultyDriver> device, Random random)
    {
        switch (random.Next(7))
        {
            case 0:
                ns.Ip("link set dev ndfault0 down");
                ns.Ip("link set dev ndfault0 up");
                break;
            case 1:
                ns.Ip($"link set dev ndfault0 mtu {new[] { 1280, 1500, 4000, 9000 }[random.Next(4)]}");
                break;
            case 2:
                ns.Ip($"link set dev ndfault0 address 02:00:00:00:{random.Next(256):x2}:{random.Next(1, 256):x2}");
                break;
            case 3:
                ns.Ip($"link set dev ndfault0 promisc {(random.Next(2) == 0 ? "on" : "off")}");
                break;
            case 4:
                ns.Ip($"link set dev ndfault0 carrier {(random.Next(2) == 0 ? "on" : "off")}");
                break;
            case 5:
                try
                {
                    device.Mtu = new[] { 1500, 9000 }[random.Next(2)];
                }
                catch (InjectedFault)
                {
                    // The driver refused the change.
                }
                break;
            default:
                try
                {
                    _ = device.GetStats();
                }
                catch (InjectedFault)
                {
                    // GetStats64 failed; the caller hears of it.
                }
                break;
        }
    }

    private static void Retry(Action action) => Wait.Until(() =>
    {
        try
        {
            action();
            return true;
        }
        catch (InjectedFault)
        {
            return false;
        }
    }, "the driver letting the call through");

    private sealed record Accounting(long HandedOver, long Transmitted, long Dropped, long Calls, long TransmitErrors)
    {
        /// <summary>The kernel's tx_packets = counted + dropped, and every StartXmit call = counted or a TransmitError drop.</summary>
        public bool Balanced => HandedOver == Transmitted + Dropped && Calls == Transmitted + TransmitErrors;
    }

    private static Accounting Accounted(TestNamespace ns, NetDevice<FaultyDriver> device, FaultyDriver driver)
    {
        var calls = driver.StartXmitCalls;
        var drops = device.GetDropCounts().Where(d => d.Direction == TrafficDirection.Transmit).ToList();
        return new Accounting(
            ns.Counter("ndfault0", "tx_packets"),
            device.Queues.Sum(q => q.TxPackets),
            drops.Sum(d => d.Count),
            calls,
            drops.Where(d => d.Reason == DropReason.TransmitError).Sum(d => d.Count));
    }

    /// <summary>Writes frames of random length through the interface until stopped; refusals (down, too long) are expected.</summary>
    private static void Send(string netns, int ifIndex, MacAddress mac, int seed, CancellationToken stop) => NetworkNamespace.Run(netns, () =>
    {
        var random = new Random(seed + 1);
        using var socket = new Socket(AddressFamily.Packet, SocketType.Raw, ProtocolType.Raw);
        var address = EthernetFrames.PacketAddress(ifIndex);
        while (!stop.IsCancellationRequested)
        {
            var length = random.Next(10) == 0 ? random.Next(1500, 9000) : random.Next(60, 1200);
            try
            {
                socket.SendTo(Frame(mac, length), SocketFlags.None, address);
            }
            catch (SocketException)
            {
                Thread.Sleep(1);   // down, or longer than the MTU of the moment
            }
        }
    });

    private static void SendOne(string netns, int ifIndex, MacAddress mac, int length) => NetworkNamespace.Run(netns, () =>
    {
        using var socket = new Socket(AddressFamily.Packet, SocketType.Raw, ProtocolType.Raw);
        try
        {
            socket.SendTo(Frame(mac, length), SocketFlags.None, EthernetFrames.PacketAddress(ifIndex));
        }
        catch (SocketException)
        {
            // Down for the moment; the caller tries again.
        }
    });

    private static byte[] Frame(MacAddress destination, int length)
    {
        var frame = new byte[length];
        destination.CopyTo(frame);
        MacAddress.Parse("02:00:00:00:00:aa").CopyTo(frame.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x88B5); // IEEE local experimental EtherType
        return frame;
    }
}

/// <summary>What <see cref="FaultyDriver"/> throws.</summary>
public sealed class InjectedFault(string operation) : Exception($"injected fault in {operation}");

/// <summary>
/// A simple driver (count, release, OK) that throws at random, seeded, from every operation; StartXmit throws
/// before or after releasing its frame, and sometimes stops its queue so that the watchdog calls TxTimeout.
/// </summary>
public sealed class FaultyDriver(int seed) : IDeviceOperations<FaultyDriver>
{
    private readonly Random _random = new(seed);
    private long _calls;
    private long _threwBefore;
    private long _startXmitFaults;
    private long _faults;

    /// <summary>Whether faults are injected (turned off to clean up after a failed test).</summary>
    public volatile bool Injecting = true;

    public long StartXmitCalls => Interlocked.Read(ref _calls);

    public long ThrewBeforeRelease => Interlocked.Read(ref _threwBefore);

    public long StartXmitFaults => Interlocked.Read(ref _startXmitFaults);

    public long InjectedFaults => Interlocked.Read(ref _faults);

    /// <summary>Each operation that threw, in order (for the failure message).</summary>
    public string Faults => string.Join(" ", _thrown);

    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _thrown = new();

    public void Open(NetDevice<FaultyDriver> device) => MaybeThrow(nameof(Open), 0.2);

    public void Stop(NetDevice<FaultyDriver> device) => MaybeThrow(nameof(Stop), 0.2);

    public void ChangeMtu(NetDevice<FaultyDriver> device, int newMtu) => MaybeThrow(nameof(ChangeMtu), 0.3);

    public void SetMacAddress(NetDevice<FaultyDriver> device, MacAddress address) => MaybeThrow(nameof(SetMacAddress), 0.3);

    public void SetRxMode(NetDevice<FaultyDriver> device) => MaybeThrow(nameof(SetRxMode), 0.3);

    public void ChangeCarrier(NetDevice<FaultyDriver> device, bool carrier) => MaybeThrow(nameof(ChangeCarrier), 0.3);

    public void GetStats64(NetDevice<FaultyDriver> device, ref LinkStats64 stats) => MaybeThrow(nameof(GetStats64), 0.3);

    public long TxTimeouts => Interlocked.Read(ref _txTimeouts);

    private long _txTimeouts;

    public void TxTimeout(NetDevice<FaultyDriver> device, int queue)
    {
        Interlocked.Increment(ref _txTimeouts);
        // It throws only after waking its queue: the watchdog fires once per stop, so a TxTimeout that throws
        // before its reset leaves the queue stopped for good (see docs/reliability.md, not yet fixed).
        device.WakeQueue(queue);
        MaybeThrow(nameof(TxTimeout), 0.5);
    }

    public TxResult StartXmit(NetDevice<FaultyDriver> device, SkBuff skb)
    {
        Interlocked.Increment(ref _calls);
        var roll = Injecting ? Roll() : 1;
        if (roll < 0.05)
        {
            Interlocked.Increment(ref _threwBefore);
            Throw(nameof(StartXmit));
        }
        var queue = skb.QueueIndex;
        device.CountTx(skb);
        skb.Consume();
        if (roll < 0.10)
        {
            Throw(nameof(StartXmit));
        }
        if (roll < 0.11)
        {
            device.StopQueue(queue);   // the watchdog's TxTimeout wakes it
        }
        return TxResult.Ok;
    }

    private double Roll()
    {
        lock (_random)
        {
            return _random.NextDouble();
        }
    }

    private void MaybeThrow(string operation, double probability)
    {
        if (Injecting && Roll() < probability)
        {
            Throw(operation);
        }
    }

    private void Throw(string operation)
    {
        Interlocked.Increment(ref _faults);
        _thrown.Enqueue(operation);
        if (operation == nameof(StartXmit))
        {
            Interlocked.Increment(ref _startXmitFaults);
        }
        throw new InjectedFault(operation);
    }
}
