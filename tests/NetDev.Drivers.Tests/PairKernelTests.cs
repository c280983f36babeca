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

        var (code, output) = KernelPair.Ping(pair.A, pair.AddressB);
        Assert.True(code == 0, $"ping {pair.NameA} -> {pair.NameB} failed:\n{output}");
        (code, output) = KernelPair.Ping(pair.B, pair.AddressA);
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
}
