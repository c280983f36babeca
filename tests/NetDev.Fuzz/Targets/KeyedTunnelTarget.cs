using NetDev.Drivers.Tunnel;

namespace NetDev.Fuzz;

/// <summary>
/// The keyed tunnel's datagram judge (<c>TunnelDriver.InspectKeyed</c>) on arbitrary datagrams, and on datagrams
/// the target seals itself and then changes, so the fuzzer reaches the authenticated paths too: nothing but a
/// genuine, unchanged, first-seen datagram may be accepted, and an accepted frame has a frame's size.
/// </summary>
internal static class KeyedTunnelTarget
{
    private const int Mtu = 1500;
    private static readonly TunnelKey Key = TunnelKey.FromBytes([.. Enumerable.Range(1, TunnelKey.Length).Select(i => (byte)i)]);
    private static readonly byte[] Session = MakeSession();

    /// <summary>
    /// Input: a flags byte (1 from the peer; 2 seal: the rest is a frame the target seals with the fixed key;
    /// 4 then flip one bit, at the position given by the next 2 bytes; 8 then deliver it twice), then the datagram or frame.
    /// </summary>
    public static void Run(ReadOnlySpan<byte> input)
    {
        var fields = new FuzzInput(input);
        var flags = fields.Byte();
        var position = (flags & 4) != 0 ? fields.UInt16() : 0;
        var rest = fields.Rest;
        using var receiver = new KeyedReceiver(Key, 1);
        var peer = (flags & 1) != 0 ? 0 : -1;
        byte[] datagram;
        var changed = false;
        if ((flags & 2) != 0)
        {
            datagram = new byte[KeyedFormat.Overhead + rest.Length];
            rest.CopyTo(datagram.AsSpan(KeyedFormat.HeaderLength));
            using var sender = new KeyedSender(Key, Session, 0);
            FuzzFailure.Check(sender.TrySeal(datagram), "keyed tunnel: a fresh lane refused to seal");
            if ((flags & 4) != 0)
            {
                var bit = position % (datagram.Length * 8);
                datagram[bit / 8] ^= (byte)(1 << (bit % 8));
                changed = true;
            }
        }
        else
        {
            datagram = rest.ToArray();
        }
        var copy = (flags & 8) != 0 ? datagram.ToArray() : null;
        var verdict = TunnelDriver.InspectKeyed(datagram, datagram.Length, peer, Mtu + NetDevice.LinkOverhead, receiver);
        _ = TunnelDriver.DropReasonOf(verdict is TunnelDriver.RxVerdict.Accepted ? TunnelDriver.RxVerdict.TooShort : verdict);
        if (verdict != TunnelDriver.RxVerdict.Accepted)
        {
            return;
        }
        FuzzFailure.Check((flags & 2) != 0 && !changed, $"keyed tunnel: accepted a datagram it did not seal or that was changed (flags {flags})");
        FuzzFailure.Check(peer == 0, "keyed tunnel: accepted a datagram from a stranger");
        var frameLength = datagram.Length - KeyedFormat.Overhead;
        FuzzFailure.Check(frameLength is >= NetDevice.EthernetHeaderLength and <= Mtu + NetDevice.LinkOverhead, $"keyed tunnel: accepted a {frameLength}-byte frame");
        FuzzFailure.Check(datagram.AsSpan(KeyedFormat.HeaderLength, frameLength).SequenceEqual(rest), "keyed tunnel: the opened frame is not the one sealed");
        if (copy is not null)
        {
            FuzzFailure.Check(TunnelDriver.InspectKeyed(copy, copy.Length, peer, Mtu + NetDevice.LinkOverhead, receiver) == TunnelDriver.RxVerdict.Replayed,
                "keyed tunnel: a datagram was accepted twice");
        }
    }

    private static byte[] MakeSession()
    {
        var session = new byte[KeyedFormat.SessionIdLength];
        KeyedFormat.NewSessionId(session, new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        return session;
    }
}
