using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using NetDev.Drivers.Pair;
using NetDev.Drivers.Tests.Infrastructure;

namespace NetDev.Drivers.Tests;

/// <summary>The pair driver against the real kernel: its two ends in two namespaces are two hosts on one wire.</summary>
public sealed class PairKernelTests
{
    private const int TransferPort = 5002;

    [Fact]
    public void PingCrossesThePairBothWays()
    {
        using var pair = KernelPair.Create(DeviceFeatures.All);

        var (code, output) = pair.Ping(pair.A, pair.AddressB);
        Assert.True(code == 0, $"ping {pair.NameA} -> {pair.NameB} failed:\n{output}");
        (code, output) = pair.Ping(pair.B, pair.AddressA);
        Assert.True(code == 0, $"ping {pair.NameB} -> {pair.NameA} failed:\n{output}");

        foreach (var end in new[] { pair.Devices.First.Device, pair.Devices.Second.Device })
        {
            var stats = end.GetStats();
            Assert.True(stats.TxPackets >= 3 && stats.RxPackets >= 3, $"{end.Name}: {stats}");
        }
        pair.AssertWhatOneSentTheOtherReceived();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ATcpTransferArrivesWhole(bool offloads)
    {
        using var pair = KernelPair.Create(offloads ? DeviceFeatures.All : DeviceFeatures.None);
        var sender = pair.Devices.First.Device;
        var wireFrame = sender.Mtu + NetDevice.EthernetHeaderLength;
        if (offloads)
        {
            Assert.True(sender.Features.HasFlag(DeviceFeatures.Tso4), $"the kernel did not take TSO on {sender.Name}: {sender.Features}");
        }
        else
        {
            Assert.Equal(DeviceFeatures.None, sender.Features);
        }

        var payload = new byte[4 << 20];
        Random.Shared.NextBytes(payload);
        var (receivedBytes, receivedHash) = TcpTransfer.Run(pair.A, pair.B, pair.AddressB, TransferPort, payload);

        Assert.Equal(payload.Length, receivedBytes);
        Assert.Equal(SHA256.HashData(payload), receivedHash);
        // Every byte of the stream left through the sender's driver, with its headers on top.
        Assert.True(sender.GetStats().TxBytes > payload.Length, $"{sender.Name}: {sender.GetStats()}");
        pair.AssertWhatOneSentTheOtherReceived();
        if (offloads)
        {
            // TCP segments of up to 64 KiB crossed uncut, with their offload state, as on a veth.
            Assert.True(pair.LargestToB > wireFrame, $"the largest frame {pair.NameA} carried to {pair.NameB} had {pair.LargestToB} bytes; none was larger than the MTU");
            Assert.True(pair.SegmentationOffloadsToB > 0, "no frame crossed with a segmentation offload");
        }
        else
        {
            Assert.InRange(pair.LargestToB, 1, wireFrame);
            Assert.Equal(0, pair.SegmentationOffloadsToB);
        }
    }

    /// <summary>
    /// Two namespaces of the test's own, a pair joining them (the first end in A, the second in B) with
    /// 10.252.N.1/24 and .2, and a look at every frame handed to B's system. Everything is removed on
    /// dispose, also when construction failed half way.
    /// </summary>
    private sealed class KernelPair : IDisposable
    {
        private readonly int _subnet = Random.Shared.Next(1, 255);
        private int _largestToB;
        private long _segmentationOffloadsToB;

        private KernelPair(DeviceFeatures features)
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
                B.Ip($"addr add {AddressB}/24 dev {NameB}");
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public static KernelPair Create(DeviceFeatures features) => new(features);

        public string NameA { get; }

        public string NameB { get; }

        public TestNamespace A { get; }

        public TestNamespace B { get; } = null!;

        public PairRegistration Devices { get; } = null!;

        public IPAddress AddressA => IPAddress.Parse($"10.252.{_subnet}.1");

        public IPAddress AddressB => IPAddress.Parse($"10.252.{_subnet}.2");

        /// <summary>The longest frame A's driver handed to B's system.</summary>
        public int LargestToB => Volatile.Read(ref _largestToB);

        /// <summary>How many frames reached B's system still to be segmented.</summary>
        public long SegmentationOffloadsToB => Interlocked.Read(ref _segmentationOffloadsToB);

        public (int Code, string Output) Ping(TestNamespace from, IPAddress target)
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
    }
}
