using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using NetDev.Hosting;
using NetDev.Linux;
using NetDev.TestSupport;

namespace NetDev.Testing.Tests;

/// <summary>
/// The same driver and the same scenario on the test host and on the Linux host give the same counts:
/// what a driver test on <see cref="TestHost"/> shows holds for the real interface. Needs root (a network
/// namespace and a TAP); the non-root run leaves it out by its trait.
/// </summary>
[Trait("Category", "RequiresRoot")]
public sealed class BothHostsTests
{
    private const int FrameCount = 25;

    [Fact]
    public void OneScenarioGivesTheSameResultOnTheTestHostAndOnLinux()
    {
        Assert.SkipUnless(Environment.IsPrivilegedProcess, "Needs root: it makes a network namespace and a TAP interface.");
        var frames = Enumerable.Range(0, FrameCount).Select(OurFrame).ToList();

        var onTestHost = Scenario.Run(new TestHostSide(), frames);
        Outcome onLinux;
        // Quiet: no IPv6 autoconfiguration frames among those counted; the scenario needs no loopback.
        using (var ns = KernelNamespace.Create(quiet: true, loopbackUp: false))
        {
            onLinux = Scenario.Run(new LinuxSide(ns.Name), frames);
        }

        Assert.Equal(frames, onTestHost.FramesSeen);
        Assert.Equal(frames, onLinux.FramesSeen);
        Assert.Equal(onTestHost with { FramesSeen = [] }, onLinux with { FramesSeen = [] });
        Assert.Equal(new Outcome("Init, Open, Stop, Uninit", FrameCount, frames.Sum(f => (long)f.Length), true, 1, []), onTestHost with { FramesSeen = [] });
    }

    /// <summary>A frame only this test sends: the local experimental EtherType and a marker.</summary>
    private static byte[] OurFrame(int seed)
    {
        var payload = new byte[46 + seed * 40];
        Marker.CopyTo(payload);
        for (var i = Marker.Length; i < payload.Length; i++)
        {
            payload[i] = (byte)(seed * 13 + i);
        }
        return TestFrames.Ethernet(MacAddress.Broadcast, MacAddress.Parse("02:00:00:00:0b:01"), TestFrames.ExperimentalEtherType, payload);
    }

    private static readonly byte[] Marker = "netdev-both-hosts"u8.ToArray();

    private static bool IsOurs(ReadOnlySpan<byte> frame) =>
        frame.Length >= NetDevice.EthernetHeaderLength + Marker.Length
        && BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == TestFrames.ExperimentalEtherType
        && frame.Slice(NetDevice.EthernetHeaderLength, Marker.Length).SequenceEqual(Marker);

    /// <summary>What the scenario saw; equal on both hosts.</summary>
    /// <param name="Lifecycle">The driver operations other than StartXmit, in order.</param>
    /// <param name="OurFrames">How many of the test's frames reached StartXmit.</param>
    /// <param name="OurBytes">Their bytes.</param>
    /// <param name="ReceiveTaken">Whether the system took the frame the driver handed it.</param>
    /// <param name="RxPackets">The device's receive count.</param>
    /// <param name="FramesSeen">The test's frames as StartXmit saw them.</param>
    private sealed record Outcome(string Lifecycle, int OurFrames, long OurBytes, bool ReceiveTaken, long RxPackets, IReadOnlyList<byte[]> FramesSeen)
    {
        public bool Equals(Outcome? other) =>
            other is not null && (Lifecycle, OurFrames, OurBytes, ReceiveTaken, RxPackets) == (other.Lifecycle, other.OurFrames, other.OurBytes, other.ReceiveTaken, other.RxPackets)
            && FramesSeen.Count == other.FramesSeen.Count && FramesSeen.Zip(other.FramesSeen).All(pair => pair.First.AsSpan().SequenceEqual(pair.Second));

        public override int GetHashCode() => HashCode.Combine(Lifecycle, OurFrames, OurBytes);
    }

    /// <summary>The driver under test: keeps the test's frames, counts and consumes every frame.</summary>
    private sealed class CountingDriver : IDeviceOperations<CountingDriver>
    {
        private readonly List<byte[]> _ours = [];

        public IReadOnlyList<byte[]> Ours
        {
            get
            {
                lock (_ours)
                {
                    return [.. _ours];
                }
            }
        }

        public void Init(NetDevice<CountingDriver> device)
        {
        }

        public void Uninit(NetDevice<CountingDriver> device)
        {
        }

        public void Open(NetDevice<CountingDriver> device)
        {
        }

        public void Stop(NetDevice<CountingDriver> device)
        {
        }

        public TxResult StartXmit(NetDevice<CountingDriver> device, SkBuff skb)
        {
            if (IsOurs(skb.Data))
            {
                lock (_ours)
                {
                    _ours.Add(skb.Data.ToArray());
                }
            }
            device.CountTx(skb);
            skb.Consume();
            return TxResult.Ok;
        }

        /// <summary>The driver's receive path: a frame "from the wire" handed to the system.</summary>
        public static bool Receive(NetDevice<CountingDriver> device, byte[] frame)
        {
            var skb = device.AllocSkb(0);
            frame.CopyTo(skb.Put(frame.Length));
            skb.Protocol = TestFrames.ExperimentalEtherType;
            return device.NetifRx(skb);
        }
    }

    /// <summary>What differs between the hosts: how frames are sent into the device and how long to wait.</summary>
    private interface IHostSide
    {
        INetDeviceHost Host { get; }

        void Send(NetDevice device, IReadOnlyList<byte[]> frames);

        void WaitUntil(Func<bool> condition, string what);
    }

    private static class Scenario
    {
        public static Outcome Run(IHostSide side, IReadOnlyList<byte[]> frames)
        {
            var driver = new CountingDriver();
            var registration = new Registration<CountingDriver>(side.Host, 1, 1, driver);
            var device = registration.Device;
            var calls = OperationRecorder.Attach(device);
            bool taken;
            try
            {
                device.Name = "ndtboth%d";
                device.Flags |= DeviceFlags.NoArp;
                registration.Register();
                device.BringUp();

                side.Send(device, frames);
                side.WaitUntil(() => driver.Ours.Count >= frames.Count, $"{frames.Count} frames at StartXmit");
                taken = CountingDriver.Receive(device, frames[0]);

                device.BringDown();
            }
            finally
            {
                registration.Dispose();
            }
            SkBuffAccounting.AssertNoLeaks(registration);
            var lifecycle = string.Join(", ", calls.Calls.Where(c => c.Operation != nameof(IDeviceOperations<>.StartXmit)).Select(c => c.ToString()));
            var ours = driver.Ours;
            return new Outcome(lifecycle, ours.Count, ours.Sum(f => (long)f.Length), taken, device.GetStats().RxPackets, ours);
        }
    }

    private sealed class TestHostSide : IHostSide
    {
        private readonly TestHost _host = new();

        public INetDeviceHost Host => _host;

        public void Send(NetDevice device, IReadOnlyList<byte[]> frames)
        {
            var link = _host.GetLink(device);
            foreach (var frame in frames)
            {
                link.InjectTransmit(frame);
            }
        }

        public void WaitUntil(Func<bool> condition, string what) => Assert.True(condition(), what);
    }

    private sealed class LinuxSide(string networkNamespace) : IHostSide
    {
        public INetDeviceHost Host { get; } = new LinuxHost(new LinuxHostOptions { NetworkNamespace = networkNamespace });

        public void Send(NetDevice device, IReadOnlyList<byte[]> frames)
        {
            var ifIndex = device.IfIndex;
            // A socket belongs to the namespace of the thread that makes it: made inside, it sends on the device.
            NetworkNamespace.Run(networkNamespace, () =>
            {
                using var socket = new Socket(AddressFamily.Packet, SocketType.Raw, ProtocolType.Raw);
                var address = LinkLayerAddress(ifIndex);
                foreach (var frame in frames)
                {
                    socket.SendTo(frame, SocketFlags.None, address);
                }
            });
        }

        public void WaitUntil(Func<bool> condition, string what)
        {
            // A bound for a broken run, not a timing assertion.
            var deadline = Stopwatch.StartNew();
            while (!condition())
            {
                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(20), $"gave up waiting for {what}");
                Thread.Sleep(10);
            }
        }

        /// <summary>A <c>struct sockaddr_ll</c> for interface <paramref name="ifIndex"/>: family, protocol, index.</summary>
        private static SocketAddress LinkLayerAddress(int ifIndex)
        {
            var address = new SocketAddress(AddressFamily.Packet, 20);
            var bytes = address.Buffer.Span;
            BinaryPrimitives.WriteUInt16BigEndian(bytes[2..], TestFrames.ExperimentalEtherType);
            BinaryPrimitives.WriteInt32LittleEndian(bytes[4..], ifIndex);
            return address;
        }
    }
}
