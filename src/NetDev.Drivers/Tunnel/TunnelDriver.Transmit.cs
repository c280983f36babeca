using System.Net;
using Microsoft.Extensions.Logging;
using NetDev.Linux;
using NetDev.Offload;

namespace NetDev.Drivers.Tunnel;

/// <summary>The transmit half of the tunnel: each frame becomes wire datagrams, handed to the kernel together.</summary>
public sealed partial class TunnelDriver
{
    /// <summary>
    /// The room per transmit queue into which a GSO frame's datagrams are laid back to back: a 64 KiB frame
    /// cut into segments, each with its own headers, tunnel header and trailer, fits at once.
    /// </summary>
    private const int PackedBufferBytes = 160 * 1024;

    /// <summary>
    /// Sends the frame to the peer (<c>ndo_start_xmit</c>): a frame without segmentation as one datagram,
    /// straight from its buffer (its checksum completed first if the system left it partial); a
    /// segmentation-offload frame cut once into wire-size segments laid back to back in the queue's buffer,
    /// each behind its own tunnel header, and all of them handed to the kernel in one call (UDP GSO, or
    /// <c>sendmmsg</c>, see <see cref="UdpDatagramSocket"/>). A send the system refuses, or a frame whose
    /// offload cannot be carried out, drops the frame with a reason and counts a transmit error; datagrams
    /// already sent stay sent. The queue never waits longer than the socket's bounded retries.
    /// </summary>
    public TxResult StartXmit(NetDevice<TunnelDriver> device, SkBuff skb)
    {
        var queue = device.Queues[skb.QueueIndex];
        var counters = _txCounters[queue.Index];
        if (skb.Headroom < _datagramHeaderLength)
        {
            // Every pool reserves headroom for this; a frame without it did not come from one.
            queue.CountTxError();
            skb.Drop(DropReason.TransmitError);
            return TxResult.Ok;
        }
        skb.TxTimestamp();
        // All segments of a frame share its destination, so the peer is looked up once per frame.
        var peer = PeerFor(skb.Data);
        var failure = skb.Offload.GsoType == GsoType.None
            ? SendFrame(device, queue, counters, skb, peer)
            : SendSegments(device, queue, counters, skb, peer);
        if (failure is { } reason)
        {
            skb.Drop(reason);
        }
        else
        {
            skb.Consume();
        }
        return TxResult.Ok;
    }

    /// <summary>Sends a frame that needs no segmentation from its own buffer; returns why it failed, or null when it was sent.</summary>
    private DropReason? SendFrame(NetDevice<TunnelDriver> device, DeviceQueue queue, TxCounters counters, SkBuff skb, int peer)
    {
        var result = PartialChecksum.Complete(skb);
        if (result != OffloadResult.Done)
        {
            return OffloadFailed(device, queue, counters, skb, result);
        }
        if (skb.Tailroom < _datagramTrailerLength && !MakeTrailerRoom(skb))
        {
            queue.CountTxError();
            return DropReason.TransmitError;
        }
        skb.Push(_datagramHeaderLength);
        skb.Put(_datagramTrailerLength);
        var datagram = skb.Data;
        if (!Wrap(counters, datagram))
        {
            queue.CountTxError();
            return DropReason.TransmitError;
        }
        return Transmit(device, queue, counters, datagram, datagram.Length, peer);
    }

    /// <summary>
    /// Cuts a segmentation-offload frame into the queue's buffer, segments back to back with a tunnel header
    /// in front of each and trailer room behind, and sends them together; returns why it failed, or null when all were sent.
    /// </summary>
    private DropReason? SendSegments(NetDevice<TunnelDriver> device, DeviceQueue queue, TxCounters counters, SkBuff skb, int peer)
    {
        var result = GsoSegmenter.SegmentPacked(skb, out var segments);
        if (result != OffloadResult.Done)
        {
            return OffloadFailed(device, queue, counters, skb, result);
        }
        counters.SegmentedFrames++;
        var buffer = counters.Packed;
        var header = _datagramHeaderLength;
        var stride = header + segments.SegmentFrameLength + _datagramTrailerLength;
        while (!segments.IsFinished)
        {
            var count = segments.Fill(skb, buffer, header, _datagramTrailerLength, int.MaxValue, out var length);
            if (count == 0)
            {
                // Not even one segment fits the queue's buffer: a frame larger than any the system hands over.
                return OffloadFailed(device, queue, counters, skb, OffloadResult.Unsupported);
            }
            var packed = buffer.AsSpan(0, length);
            for (var offset = 0; offset < length; offset += stride)
            {
                // Each datagram (header room, segment, trailer room) is wrapped on its own, in place; the
                // datagrams stay back to back at the same stride.
                if (!Wrap(counters, packed.Slice(offset, Math.Min(stride, length - offset))))
                {
                    queue.CountTxError();
                    return DropReason.TransmitError;
                }
            }
            if (Transmit(device, queue, counters, packed, stride, peer) is { } reason)
            {
                return reason;
            }
        }
        return null;
    }

    /// <summary>
    /// Hands the datagrams laid back to back in <paramref name="datagrams"/> (each <paramref name="stride"/>
    /// bytes but the last) to the kernel for <paramref name="peer"/>, or for every peer when it is
    /// <see cref="AllPeers"/> (the same sealed datagrams to each: one nonce, many receivers); returns why they
    /// failed when no peer could be sent them (each failure counted and logged), or null.
    /// </summary>
    private DropReason? Transmit(NetDevice<TunnelDriver> device, DeviceQueue queue, TxCounters counters, ReadOnlySpan<byte> datagrams, int stride, int peer)
    {
        if (peer != AllPeers)
        {
            return TransmitTo(device, queue, counters, datagrams, stride, peer, countFrames: true);
        }
        DropReason? failure = null;
        var anySent = false;
        for (var p = 0; p < Peers.Count; p++)
        {
            // The frames are counted once, with the first peer; every peer's datagrams are counted as its own.
            var reason = TransmitTo(device, queue, counters, datagrams, stride, p, countFrames: p == 0);
            anySent |= reason is null;
            failure ??= reason;
        }
        return anySent ? null : failure;
    }

    /// <summary>Sends the datagrams to peer <paramref name="peer"/> and counts each one sent; returns why the rest failed (counted and logged), or null.</summary>
    private DropReason? TransmitTo(NetDevice<TunnelDriver> device, DeviceQueue queue, TxCounters counters, ReadOnlySpan<byte> datagrams, int stride, int peer, bool countFrames)
    {
        var (sent, errno, calls) = _datagrams.Send(datagrams, stride, _peerAddresses[peer]);
        counters.SendCalls += calls;
        var overhead = _datagramHeaderLength + _datagramTrailerLength;
        for (var i = 0; i < sent; i++)
        {
            var datagramLength = Math.Min(stride, datagrams.Length - i * stride);
            if (countFrames)
            {
                queue.CountTx(datagramLength - overhead);
            }
            counters.Datagrams++;
            counters.Bytes += datagramLength;
            counters.CountPeer(peer, datagramLength);
        }
        if (_datagrams.SendPath != counters.SendPath)
        {
            counters.SendPath = _datagrams.SendPath;
            device.Logger.LogWarning("{Device}: the kernel refused the faster send path ({Errno}); queue {Queue} now sends with {Path}",
                device.Name, Errno.NameOf(_datagrams.SendFallbackErrno), queue.Index, DescribeSendPath(counters.SendPath));
        }
        if (errno == 0)
        {
            return null;
        }
        queue.CountTxError();
        counters.SendErrors++;
        counters.PeerErrors[peer]++;
        if (errno != counters.LastLoggedErrno)
        {
            counters.LastLoggedErrno = errno;
            device.Logger.LogWarning("{Device}: sending to {Remote} failed on queue {Queue}: {Error}; frames are dropped and counted while it lasts",
                device.Name, Peers[peer], queue.Index, Errno.NameOf(errno));
        }
        return DropReasonOf(errno);
    }

    /// <summary>Counts (and logs, the first time on the queue) a frame whose offload could not be carried out.</summary>
    private static DropReason OffloadFailed(NetDevice<TunnelDriver> device, DeviceQueue queue, TxCounters counters, SkBuff skb, OffloadResult result)
    {
        queue.CountTxError();
        counters.OffloadErrors++;
        if (!counters.LoggedOffloadError)
        {
            counters.LoggedOffloadError = true;
            device.Logger.LogWarning("{Device}: a {Length}-byte frame with offload {Offload} could not be finished ({Result}) on queue {Queue}; such frames are dropped and counted in tunnel_tx_offload_errors",
                device.Name, skb.Length, skb.Offload, result, queue.Index);
        }
        return result == OffloadResult.Unsupported ? DropReason.UnhandledProtocol : DropReason.InvalidHeader;
    }

    internal static string DescribeSendPath(DatagramSendPath path) => path switch
    {
        DatagramSendPath.Segmented => "UDP GSO (UDP_SEGMENT) and sendmmsg",
        DatagramSendPath.Batched => "sendmmsg",
        _ => "one sendmsg per datagram",
    };

    internal static string DescribeReceivePath(DatagramReceivePath path) => path switch
    {
        DatagramReceivePath.Coalesced => "UDP GRO and recvmmsg",
        DatagramReceivePath.Batched => "recvmmsg",
        _ => "one recvmsg per datagram",
    };

    private static DropReason DropReasonOf(int errno) => errno switch
    {
        Errno.EMSGSIZE => DropReason.PacketTooBig,
        Errno.ENETUNREACH or Errno.EHOSTUNREACH or Errno.EADDRNOTAVAIL or Errno.ECONNREFUSED => DropReason.NoRoute,
        Errno.ENOBUFS or Errno.EAGAIN => DropReason.QueueFull,
        _ => DropReason.TransmitError,
    };

    /// <summary>
    /// One transmit queue's own counters, and the buffer its GSO frames are cut into.
    /// </summary>
    /// <remarks><b>Invariants.</b> Written only on the queue's thread (plain writes), read elsewhere as snapshots;
    /// <see cref="Packed"/> is used only by the queue's thread, within one <see cref="StartXmit"/>.</remarks>
    private sealed class TxCounters(DatagramSendPath sendPath, int peers, KeyedSender? sender)
    {
        public readonly byte[] Packed = GC.AllocateArray<byte>(PackedBufferBytes, pinned: true);
        public readonly KeyedSender? Sender = sender;
        public readonly long[] PeerDatagrams = new long[peers];
        public readonly long[] PeerBytes = new long[peers];
        public readonly long[] PeerErrors = new long[peers];
        public bool CounterSpent;
        public long Datagrams;
        public long Bytes;
        public long SendErrors;
        public long SendCalls;
        public long SegmentedFrames;
        public long OffloadErrors;
        public int LastLoggedErrno;
        public bool LoggedOffloadError;
        public DatagramSendPath SendPath = sendPath;

        public void CountPeer(int peer, int bytes)
        {
            PeerDatagrams[peer]++;
            PeerBytes[peer] += bytes;
        }
    }
}
