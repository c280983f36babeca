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

        var transfer = TcpTransfer.Run(pair.A, pair.B, new IPEndPoint(pair.AddressB, TransferPort), 4 << 20);

        Assert.Null(transfer.ReceiveError);
        Assert.Equal(transfer.SentBytes, transfer.ReceivedBytes);
        Assert.Equal(transfer.SentHash, transfer.ReceivedHash);
        // Every byte of the stream left through the sender's driver, with its headers on top.
        Assert.True(sender.GetStats().TxBytes > transfer.SentBytes, $"{sender.Name}: {sender.GetStats()}");
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

    /// <summary>What a transfer sent and received, counted and hashed on each side.</summary>
    private sealed record TransferResult(long SentBytes, byte[] SentHash, long ReceivedBytes, byte[] ReceivedHash, Exception? ReceiveError);

    /// <summary>A TCP stream of random bytes from a socket in one namespace to a listener in the other.</summary>
    private static class TcpTransfer
    {
        public static TransferResult Run(TestNamespace from, TestNamespace to, IPEndPoint target, int length)
        {
            using var listener = to.Run(() =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    socket.Bind(target);
                    socket.Listen(1);
                    return socket;
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            });
            long receivedBytes = -1;
            byte[] receivedHash = [];
            Exception? receiveError = null;
            var receiver = new Thread(() =>
            {
                try
                {
                    using var connection = listener.Accept();
                    connection.ReceiveTimeout = 60_000;
                    using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                    var buffer = new byte[64 << 10];
                    long total = 0;
                    int read;
                    while ((read = connection.Receive(buffer)) > 0)
                    {
                        hash.AppendData(buffer, 0, read);
                        total += read;
                    }
                    receivedHash = hash.GetHashAndReset();
                    receivedBytes = total;
                }
                catch (Exception error)
                {
                    receiveError = error;
                }
            }) { IsBackground = true, Name = "pair tcp receiver" };
            receiver.Start();

            var payload = new byte[length];
            Random.Shared.NextBytes(payload);
            using var sentHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long sentBytes = 0;
            using (var client = from.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)))
            {
                client.SendTimeout = 60_000;
                client.Connect(target);
                while (sentBytes < payload.Length)
                {
                    var chunk = payload.AsSpan((int)sentBytes, (int)Math.Min(256 << 10, payload.Length - sentBytes));
                    var sent = client.Send(chunk, SocketFlags.None);
                    sentHash.AppendData(chunk[..sent]);
                    sentBytes += sent;
                }
                client.Shutdown(SocketShutdown.Send);
                Assert.True(receiver.Join(TimeSpan.FromSeconds(120)), "the receiver did not see the end of the stream");
            }
            return new TransferResult(sentBytes, sentHash.GetHashAndReset(), Volatile.Read(ref receivedBytes), receivedHash, receiveError);
        }
    }
}
