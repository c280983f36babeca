using NetDev.Drivers.Tunnel;
using NetDev.Offload;

namespace NetDev.Fuzz;

/// <summary>
/// The tunnel's datagram parser on arbitrary datagrams, the way its receive thread reads them: into a
/// frame whose headroom takes the tunnel header, judged, then dropped with the verdict's reason or handed
/// on (through receive coalescing when the flags ask for it).
/// </summary>
internal static class TunnelTarget
{
    private const int Mtu = 1500;

    [ThreadStatic]
    private static SkBuffPool? t_pool;

    /// <summary>Input: a flags byte (1 from the peer, 2 coalescing), then the datagram.</summary>
    public static void Run(ReadOnlySpan<byte> input)
    {
        var fields = new FuzzInput(input);
        var flags = fields.Byte();
        var datagram = fields.Rest;
        // Buffers the size the driver's receive pool has: room for one frame of the MTU.
        var pool = t_pool ??= new SkBuffPool(SkBuffPool.DefaultHeadroom + Mtu + NetDevice.LinkOverhead, SkBuffPool.DefaultHeadroom, "fuzz-tunnel");
        var outstanding = pool.Outstanding;
        var sink = new CollectingSink();
        var coalescer = (flags & 2) != 0 ? new GroCoalescer(sink, DeviceFeatures.All) : null;

        var skb = pool.Rent();
        skb.Push(TunnelHeader.Length);
        skb.Put(skb.Tailroom);
        // What recvfrom with MSG_TRUNC leaves: as much as fits, and the datagram's whole length.
        var copied = Math.Min(datagram.Length, skb.Length);
        datagram[..copied].CopyTo(skb.Data);
        var verdict = TunnelDriver.Accept(skb, datagram.Length, (flags & 1) != 0, Mtu + NetDevice.LinkOverhead);
        if (verdict != TunnelDriver.RxVerdict.Accepted)
        {
            skb.Drop(TunnelDriver.DropReasonOf(verdict));
        }
        else
        {
            FuzzFailure.Check(skb.Length == datagram.Length - TunnelHeader.Length && skb.Length >= NetDevice.EthernetHeaderLength && skb.Length <= Mtu + NetDevice.LinkOverhead,
                $"tunnel: an accepted {datagram.Length}-byte datagram became a {skb.Length}-byte frame");
            FuzzFailure.Check(skb.Data.SequenceEqual(datagram[TunnelHeader.Length..]), "tunnel: the accepted frame is not the datagram's payload");
            if (coalescer is null)
            {
                sink.Deliver(skb);
            }
            else
            {
                coalescer.Receive(skb);
                coalescer.Flush();
            }
            FuzzFailure.Check(sink.Frames.Count == 1, "tunnel: an accepted frame did not come out once");
        }
        Frames.CheckNoneLeaked(pool, outstanding, "tunnel");
    }
}
