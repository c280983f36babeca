using System.Net;
using NetDev.Drivers.Pair;

namespace NetDev.Drivers.Tests.Infrastructure;

/// <summary>
/// Two namespaces of the test's own, a pair joining them (the first end in A, the second in B), up, with
/// 10.252.N.1/24 on A's end and .2 on B's (unless B's end is left without an address, to be a bridge port),
/// and a look at every frame handed to B's system. Everything is removed on dispose, also when
/// construction failed half way.
/// </summary>
public sealed class KernelPair : IDisposable
{
    private int _largestToB;
    private long _segmentationOffloadsToB;

    private KernelPair(DeviceFeatures features, bool addressB)
    {
        var id = Guid.NewGuid().ToString("N")[..6];
        NameA = $"pka{id}";
        NameB = $"pkb{id}";
        A = new TestNamespace();
        try
        {
            B = new TestNamespace();
            Devices = PairDriver.Create(
                A.Host, NameA,
                new ObservedHost(B.Host, (_, skb) => Observe(skb)), NameB,
                features: features);
            Devices.Register();
            Devices.BringUp();
            A.Ip($"addr add {AddressA}/24 dev {NameA}");
            if (addressB)
            {
                B.Ip($"addr add {AddressB}/24 dev {NameB}");
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <param name="features">The offloads both ends offer.</param>
    /// <param name="addressB">Whether B's end gets 10.252.N.2 (false: it is left bare, for a bridge to take).</param>
    public static KernelPair Create(DeviceFeatures features, bool addressB = true) => new(features, addressB);

    /// <summary>The N of 10.252.N.0/24, random so that a failure's output names the pair it came from.</summary>
    public int Subnet { get; } = Random.Shared.Next(1, 255);

    public string NameA { get; }

    public string NameB { get; }

    public TestNamespace A { get; }

    public TestNamespace B { get; } = null!;

    public PairRegistration Devices { get; } = null!;

    public IPAddress AddressA => IPAddress.Parse($"10.252.{Subnet}.1");

    public IPAddress AddressB => IPAddress.Parse($"10.252.{Subnet}.2");

    /// <summary>The longest frame A's driver handed to B's system.</summary>
    public int LargestToB => Volatile.Read(ref _largestToB);

    /// <summary>How many frames reached B's system still to be segmented.</summary>
    public long SegmentationOffloadsToB => Interlocked.Read(ref _segmentationOffloadsToB);

    /// <summary>Both ends with the namespace each lives in.</summary>
    public IEnumerable<(TestNamespace Namespace, NetDevice Device)> Ends => [(A, Devices.First.Device), (B, Devices.Second.Device)];

    /// <summary>Three pings from <paramref name="from"/> to <paramref name="target"/>; ping's exit code and everything it said.</summary>
    public static (int Code, string Output) Ping(TestNamespace from, IPAddress target)
    {
        var (code, output, error) = from.Exec($"ping -c 3 -i 0.2 -W 2 {target}");
        return (code, output + error);
    }

    /// <summary>Every frame one end counted as sent, the other counted as received, byte for byte.</summary>
    public void AssertWhatOneSentTheOtherReceived()
    {
        var first = Devices.First.Device;
        var second = Devices.Second.Device;
        // A frame is counted received by one end just before the other counts it sent, on the sender's
        // queue thread; a late ARP or ACK may be between the two, hence waited for.
        Wait.Until(() => first.GetStats() is var a && second.GetStats() is var b
                && (a.TxPackets, a.TxBytes) == (b.RxPackets, b.RxBytes)
                && (b.TxPackets, b.TxBytes) == (a.RxPackets, a.RxBytes),
            $"the counters of both ends to agree: {first.Name} {first.GetStats()}, {second.Name} {second.GetStats()}");
    }

    /// <summary>
    /// Every frame accounted for on both ends, as the soak counts: each frame the kernel handed an end
    /// (its <c>tx_packets</c>) was transmitted or dropped with a reason, each frame an end counts as
    /// received the kernel took (<c>rx_packets</c>), and what one end transmitted the other received.
    /// Waited for, since frames may be on their way when it is asked.
    /// </summary>
    public void AssertEveryFrameAccounted()
    {
        AssertWhatOneSentTheOtherReceived();
        foreach (var (ns, device) in Ends)
        {
            Wait.Until(() => Ledger(ns, device) is var ledger && ledger.HandedOver == ledger.Transmitted + ledger.Dropped && ledger.Received == ledger.KernelTook,
                $"every frame of {device.Name} accounted for: {Ledger(ns, device)}, drops {string.Join(", ", device.GetDropCounts())}");
        }
    }

    public void Dispose()
    {
        // The devices go before their namespaces; each step runs even if the one before failed.
        try
        {
            Devices?.Dispose();
        }
        finally
        {
            try
            {
                B?.Dispose();
            }
            finally
            {
                A.Dispose();
            }
        }
    }

    private static FrameLedger Ledger(TestNamespace ns, NetDevice device) => new(
        ns.Counter(device.Name, "tx_packets"),
        device.Queues.Sum(queue => queue.TxPackets),
        device.Queues.Sum(queue => queue.TxDropped),
        device.Queues.Sum(queue => queue.RxPackets),
        ns.Counter(device.Name, "rx_packets"));

    private void Observe(SkBuff skb)
    {
        var length = skb.Length;
        var largest = Volatile.Read(ref _largestToB);
        while (length > largest)
        {
            var seen = Interlocked.CompareExchange(ref _largestToB, length, largest);
            if (seen == largest)
            {
                break;
            }
            largest = seen;
        }
        if (skb.Offload.GsoType != GsoType.None)
        {
            Interlocked.Increment(ref _segmentationOffloadsToB);
        }
    }

    /// <summary>One end's counters: the kernel's and NetDev's, on both sides of its interface.</summary>
    private sealed record FrameLedger(long HandedOver, long Transmitted, long Dropped, long Received, long KernelTook);
}
