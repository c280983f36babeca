using System.Net.Sockets;
using NetDev.Drivers.Tests.Infrastructure;

namespace NetDev.Drivers.Tests;

/// <summary>
/// VLAN-tagged frames across the pair. This kernel has no 802.1Q module, so no VLAN device makes them:
/// the test writes them itself on one end (AF_PACKET) and reads them on the other (AF_PACKET too).
/// </summary>
/// <remarks>
/// A packet socket may write a frame 4 bytes over the MTU only when its outer tag is 802.1Q; an 802.1ad
/// frame, or one with two tags, may be as long only if the sender's MTU is larger. So the frames longer
/// than the receiver's MTU with an 802.1ad or a second tag are sent with the sender's MTU 8 above the
/// receiver's: the receiving end still gets MTU + 4 and MTU + 8 (frames stacked with two tags), which it
/// must hand to its system whole.
/// </remarks>
public sealed class PairVlanTests
{
    private const int Mtu = 1500;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TaggedFramesCrossThePairWholeAndUnchangedBothWaysUpToMtuPlusTwoTags(bool offloads)
    {
        using var pair = KernelPair.Create(offloads ? DeviceFeatures.All : DeviceFeatures.None);
        foreach (var (sender, receiver) in new[] { (pair.A, pair.B), (pair.B, pair.A) })
        {
            var from = pair.Ends.Single(end => end.Namespace == sender).Device;
            var to = pair.Ends.Single(end => end.Namespace == receiver).Device;
            (ushort, ushort) customer = (EthernetFrames.Vlan, 0xA007);       // priority 5, VLAN 7
            (ushort, ushort) service = (EthernetFrames.ServiceVlan, 0x2064); // priority 1, VLAN 100
            // With both MTUs the same: what an 802.1Q VLAN device on the sender would write, up to MTU + 4.
            var sameMtu = new[]
            {
                Frame(to, 100, seed: 1, customer),
                Frame(to, Mtu + 4, seed: 2, customer),
                Frame(to, 300, seed: 3, service, customer),
                Frame(to, 200, seed: 4, customer, customer),
            };
            SendAndExpect(pair, sender, receiver, from, to, sameMtu);

            // The sender's MTU above the receiver's, so that the socket lets the longer stacked frames out.
            sender.Ip($"link set dev {from.Name} mtu {Mtu + 8}");
            Wait.Until(() => from.Mtu == Mtu + 8, $"{from.Name} hears of its MTU {Mtu + 8}: {from.Mtu}");
            var stacked = new[]
            {
                Frame(to, Mtu + 4, seed: 5, service),
                Frame(to, Mtu + 8, seed: 6, service, customer),
                Frame(to, Mtu + 8, seed: 7, customer, customer),
            };
            SendAndExpect(pair, sender, receiver, from, to, stacked);
            sender.Ip($"link set dev {from.Name} mtu {Mtu}");
            Wait.Until(() => from.Mtu == Mtu, $"{from.Name} back at MTU {Mtu}: {from.Mtu}");
        }
        pair.AssertEveryFrameAccounted();
        Assert.All(pair.Ends, end => Assert.Equal(0, end.Device.GetStats().TxDropped));
    }

    /// <summary>A marked frame to <paramref name="to"/> whose length after the Ethernet header is <paramref name="payload"/>, tags included.</summary>
    private static byte[] Frame(NetDevice to, int payload, int seed, params (ushort Tpid, ushort Tci)[] tags) =>
        EthernetFrames.Tagged(EthernetFrames.Marked(to.MacAddress, NetDevice.EthernetHeaderLength + payload - 4 * tags.Length, seed), tags);

    /// <summary>Writes <paramref name="frames"/> on <paramref name="from"/> and checks that <paramref name="to"/>'s system got each byte for byte, in order.</summary>
    private static void SendAndExpect(KernelPair pair, TestNamespace sender, TestNamespace receiver, NetDevice from, NetDevice to, byte[][] frames)
    {
        using var socket = receiver.Run(() => new PacketSocket(to.IfIndex));
        var rxBefore = receiver.Counter(to.Name, "rx_packets");
        sender.Run(() =>
        {
            using var raw = new Socket(AddressFamily.Packet, SocketType.Raw, ProtocolType.Raw);
            foreach (var frame in frames)
            {
                // sll_protocol is the frame's outer EtherType, as a VLAN device would set skb->protocol.
                raw.SendTo(frame, SocketFlags.None, EthernetFrames.PacketAddress(from.IfIndex, (ushort)(frame[12] << 8 | frame[13])));
            }
            return 0;
        });

        var arrived = socket.Receive(frames.Length, frame => EthernetFrames.IsMarked(frame) && frame.AsSpan(6, 6).SequenceEqual(EthernetFrames.Source.ToArray()));

        Assert.Equal(frames.Select(frame => frame.Length), arrived.Select(frame => frame.Length));
        Assert.Equal(frames, arrived);
        Assert.True(receiver.Counter(to.Name, "rx_packets") - rxBefore >= frames.Length, $"{to.Name}'s system counted fewer frames than arrived");
        pair.AssertWhatOneSentTheOtherReceived();
    }
}
