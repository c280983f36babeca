using NetDev.Drivers.Tunnel;
using NetDev.Offload;

namespace NetDev.Fuzz;

/// <summary>
/// The tunnel's datagram parser on arbitrary messages, the way its receive thread takes them: one datagram,
/// or a UDP GRO super-datagram walked in datagrams of its segment size; each datagram judged on its own,
/// then dropped with the verdict's reason or handed on — merged into a held frame, or copied into a frame
/// of its own (through receive coalescing when the flags ask for it).
/// </summary>
internal static class TunnelTarget
{
    private const int Mtu = 1500;

    [ThreadStatic]
    private static SkBuffPool? t_pool;

    /// <summary>
    /// Input: a flags byte (1 from the peer, 2 coalescing, 4 a GRO super-datagram: a 16-bit segment size
    /// follows, 8 truncated: the kernel reported one byte more than the slot held), then the message.
    /// </summary>
    public static void Run(ReadOnlySpan<byte> input)
    {
        var fields = new FuzzInput(input);
        var flags = fields.Byte();
        var segmentSize = (flags & 4) != 0 ? fields.UInt16() : 0;
        var message = fields.Rest.ToArray().AsSpan();
        var truncated = (flags & 8) != 0;
        var fromPeer = (flags & 1) != 0;
        // Buffers the size the driver's receive pool has with TSO: room for a merged 64 KiB frame.
        var pool = t_pool ??= new SkBuffPool(SkBuffPool.DefaultHeadroom + NetDevice.GsoMaxFrameLength, SkBuffPool.DefaultHeadroom, "fuzz-tunnel");
        var outstanding = pool.Outstanding;
        var sink = new CollectingSink();
        var coalescer = (flags & 2) != 0 ? new GroCoalescer(sink, DeviceFeatures.All) : null;
        var accepted = 0;
        var merged = 0;
        if (segmentSize == 0 || truncated)
        {
            Datagram(message, message.Length + (truncated ? 1 : 0), fromPeer, pool, sink, coalescer, ref accepted, ref merged);
        }
        else
        {
            var walked = 0;
            foreach (var datagram in new GroSegments(message, segmentSize))
            {
                FuzzFailure.Check(datagram.Length is > 0 && datagram.Length <= segmentSize, $"tunnel: a {datagram.Length}-byte datagram of segment size {segmentSize}");
                walked += datagram.Length;
                Datagram(datagram, datagram.Length, fromPeer, pool, sink, coalescer, ref accepted, ref merged);
            }
            FuzzFailure.Check(walked == message.Length, $"tunnel: the walk covered {walked} of {message.Length} bytes");
        }
        coalescer?.Flush();
        FuzzFailure.Check(coalescer is null ? sink.Frames.Count == accepted : sink.Frames.Count + merged == accepted && merged == coalescer.MergedSegments,
            $"tunnel: {accepted} accepted datagrams ({merged} merged) came out as {sink.Frames.Count} frames");
        Frames.CheckNoneLeaked(pool, outstanding, "tunnel");
    }

    private static void Datagram(Span<byte> datagram, int received, bool fromPeer, SkBuffPool pool, CollectingSink sink, GroCoalescer? coalescer, ref int accepted, ref int merged)
    {
        var verdict = TunnelDriver.Inspect(datagram, received, fromPeer, Mtu + NetDevice.LinkOverhead, TunnelHeader.Length, 0);
        if (verdict != TunnelDriver.RxVerdict.Accepted)
        {
            _ = TunnelDriver.DropReasonOf(verdict);
            return;
        }
        FuzzFailure.Check(received == datagram.Length && received - TunnelHeader.Length is >= NetDevice.EthernetHeaderLength and <= Mtu + NetDevice.LinkOverhead,
            $"tunnel: an accepted {received}-byte datagram of {datagram.Length} bytes held");
        accepted++;
        var frame = datagram[TunnelHeader.Length..received];
        if (coalescer is not null && coalescer.TryMerge(frame))
        {
            merged++;
            return;
        }
        var skb = pool.Rent();
        frame.CopyTo(skb.Put(frame.Length));
        if (coalescer is null)
        {
            sink.Deliver(skb);
        }
        else
        {
            coalescer.Receive(skb);
        }
    }
}
