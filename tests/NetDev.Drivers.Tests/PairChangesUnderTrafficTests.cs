using System.Security.Cryptography;
using NetDev.Drivers.Tests.Infrastructure;

namespace NetDev.Drivers.Tests;

/// <summary>
/// What users do to a link while traffic runs — change its MTU, take it down and up — done with <c>ip link</c>
/// to both ends of a pair in the middle of a TCP stream.
/// </summary>
public sealed class PairChangesUnderTrafficTests
{
    private const int TransferPort = 5005;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void MtuChangesAndLinkFlapsDuringATcpTransferLoseNothingAndLeaveBothEndsHealthy(bool offloads)
    {
        using var pair = KernelPair.Create(offloads ? DeviceFeatures.All : DeviceFeatures.None);
        var events = new List<string>();

        var (sentBytes, sentHash, receivedBytes, receivedHash) = TcpTransfer.RunWhile(pair.A, pair.B, pair.AddressB, TransferPort, () =>
        {
            foreach (var mtu in new[] { 9000, 1280, 4000, 1500 })
            {
                SetBoth(pair, $"mtu {mtu}", events);
                Thread.Sleep(300);
            }
            foreach (var (ns, name) in new[] { (pair.A, pair.NameA), (pair.B, pair.NameB), (pair.A, pair.NameA) })
            {
                // Short flaps, then one of three seconds: TCP retransmits across each.
                Flap(ns, name, TimeSpan.FromMilliseconds(200), events);
                Thread.Sleep(300);
            }
            Flap(pair.B, pair.NameB, TimeSpan.FromSeconds(3), events);
            SetBoth(pair, "mtu 9000", events);
            Thread.Sleep(300);
        }, atLeast: 8 << 20);

        Assert.True(sentBytes == receivedBytes, $"sent {sentBytes} bytes, {receivedBytes} arrived; events: {string.Join(", ", events)}");
        Assert.Equal(sentHash, receivedHash);
        foreach (var (_, device) in pair.Ends)
        {
            Assert.Equal(9000, device.Mtu);
            Assert.True(device.IsUp, $"{device.Name} is not up after the flaps: {device.Flags}");
        }
        // The devices are as good as new: the stream the other way, at the MTU left behind, arrives whole.
        var payload = new byte[4 << 20];
        Random.Shared.NextBytes(payload);
        var (bytes, hash) = TcpTransfer.Run(pair.B, pair.A, pair.AddressA, TransferPort, payload);
        Assert.Equal(payload.Length, bytes);
        Assert.Equal(SHA256.HashData(payload), hash);
        pair.AssertEveryFrameAccounted();
        foreach (var (_, device) in pair.Ends)
        {
            Assert.Equal(DeviceHealth.Healthy, device.Health);
            Assert.True(device.ErrorCount == 0, $"{device.Name}: {device.ErrorCount} errors, the last {device.LastError}");
        }
    }

    /// <summary>Changes both ends as one would change a link: <c>ip link set dev X <paramref name="change"/></c> on each.</summary>
    private static void SetBoth(KernelPair pair, string change, List<string> events)
    {
        pair.A.Ip($"link set dev {pair.NameA} {change}");
        pair.B.Ip($"link set dev {pair.NameB} {change}");
        events.Add(change);
    }

    private static void Flap(TestNamespace ns, string name, TimeSpan down, List<string> events)
    {
        ns.Ip($"link set dev {name} down");
        Thread.Sleep(down);
        ns.Ip($"link set dev {name} up");
        events.Add($"{name} down {down.TotalMilliseconds} ms");
    }
}
