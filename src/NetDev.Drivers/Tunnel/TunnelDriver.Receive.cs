using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using NetDev.Offload;

namespace NetDev.Drivers.Tunnel;

/// <summary>The receive half of the tunnel: one dedicated thread reading datagrams into pooled frames.</summary>
public sealed partial class TunnelDriver
{
    /// <summary>Received frames go to this queue; the tunnel has one receive thread.</summary>
    private const int ReceiveQueue = 0;

    private const int MaxErrorBackoffMilliseconds = 100;

    /// <summary>
    /// With receive coalescing, how many datagrams already waiting are read before the held frames go out:
    /// a NAPI poll's budget, the receive batch. Reading stops sooner when nothing waits or nothing is held.
    /// </summary>
    private const int CoalescingBudget = NetDevice.ReceiveBatchSize;

    // Written only by the receive thread (plain writes), read elsewhere with Volatile.Read.
    private readonly long[] _rxVerdicts = new long[Enum.GetValues<RxVerdict>().Length];
    private long _rxBytes;
    private long _rxSocketErrors;
    private long _rxCoalescedSegments;
    private long _rxCoalescedFrames;
    private long _rxSessions;
    private GroCoalescer? _coalescer;
    private SocketError _lastLoggedReceiveError = SocketError.Success;

    /// <summary>What the receiver made of one datagram; each verdict is counted.</summary>
    internal enum RxVerdict
    {
        Accepted,
        ForeignSource,
        TooShort,
        BadMagic,
        UnsupportedVersion,
        UnknownType,
        RuntFrame,
        TooBig,
        Unauthenticated,
        AuthenticationFailed,
        NewSessionFailed,
        Replayed,
        StaleSession,
        SessionLimited,
    }

    private long RxCount(RxVerdict verdict) => Volatile.Read(ref _rxVerdicts[(int)verdict]);

    private void ReceiveLoop()
    {
        var device = _device!;
        var pool = device.Queues[ReceiveQueue].RxPool;
        pool.BindToCurrentThread();
        // Filled in by every receive; allocated once, like the buffers, so a datagram costs no allocation.
        var source = new SocketAddress(_socket.AddressFamily);
        var coalescer = IsCoalescing ? new GroCoalescer(new SystemSink(device), device.Features) : null;
        _coalescer = coalescer;
        var consecutiveErrors = 0;
        try
        {
            try
            {
                while (!_stopping)
                {
                    ReceiveOne(device, pool, source, ref consecutiveErrors);
                    if (coalescer is null)
                    {
                        continue;
                    }
                    // Merging needs more than one segment at hand: take what already waits, then let the
                    // held frames go before blocking again, so coalescing never delays a frame.
                    for (var i = 1; i < CoalescingBudget && coalescer.HeldCount > 0 && DatagramWaiting(); i++)
                    {
                        ReceiveOne(device, pool, source, ref consecutiveErrors);
                    }
                    FlushCoalesced(coalescer);
                }
            }
            finally
            {
                if (coalescer is not null)
                {
                    FlushCoalesced(coalescer);
                }
            }
        }
        catch (Exception error)
        {
            // Nobody waits for this thread's result, so the failure goes to the device rather than into the void
            // (an unhandled exception would end the whole process): it is degraded, and tools show it.
            device.Degrade(new InvalidOperationException($"The tunnel's receive thread failed and ended; no more frames will be received: {error.Message}", error));
        }
    }

    /// <summary>Reads one datagram (blocking) and hands on or drops what it carries.</summary>
    private void ReceiveOne(NetDevice<TunnelDriver> device, SkBuffPool pool, SocketAddress source, ref int consecutiveErrors)
    {
        var skb = device.AllocSkb(ReceiveQueue);
        // The datagram is read so that its header lands in the headroom and the frame exactly where
        // AllocSkb put the data; pulling the header afterwards leaves the usual headroom in front.
        skb.Push(_receiveFront);
        skb.Put(skb.Tailroom);
        var received = ReceiveInto(skb, source);
        if (received < 0)
        {
            pool.Return(skb);
            if (!_stopping)
            {
                // A persistent error must not turn this thread into a busy loop.
                consecutiveErrors++;
                Thread.Sleep(Math.Min(consecutiveErrors, MaxErrorBackoffMilliseconds));
            }
            return;
        }
        consecutiveErrors = 0;
        Deliver(device, skb, received, source);
    }

    /// <summary>Whether a datagram waits in the socket, so reading it will not block (<c>FIONREAD</c>).</summary>
    private bool DatagramWaiting()
    {
        try
        {
            return !_stopping && _socket.Available > 0;
        }
        catch (Exception error) when (error is SocketException or ObjectDisposedException)
        {
            // Closed under us, or failing: the blocking receive that follows sees and handles it.
            return false;
        }
    }

    private void FlushCoalesced(GroCoalescer coalescer)
    {
        coalescer.Flush();
        _rxCoalescedSegments = coalescer.MergedSegments;
        _rxCoalescedFrames = coalescer.MergedFrames;
    }

    /// <summary>Reads one datagram into <paramref name="skb"/>'s data; returns its full length, or -1 when none was read.</summary>
    private int ReceiveInto(SkBuff skb, SocketAddress source)
    {
        try
        {
            // MSG_TRUNC makes the kernel return the datagram's real length even when it did not fit,
            // so a truncated datagram is recognised instead of being taken for a shorter frame.
            return _socket.ReceiveFrom(skb.Data, SocketFlags.Truncated, source);
        }
        catch (Exception error) when (_stopping && error is SocketException or ObjectDisposedException)
        {
            return -1;
        }
        catch (SocketException error)
        {
            _rxSocketErrors++;
            if (error.SocketErrorCode != _lastLoggedReceiveError)
            {
                _lastLoggedReceiveError = error.SocketErrorCode;
                _device!.Logger.LogWarning("{Device}: receiving failed: {Error}; retrying, and counting errors while it lasts",
                    _device.Name, error.SocketErrorCode);
            }
            return -1;
        }
    }

    /// <summary>Hands the datagram's frame to the system, or drops it with the reason its verdict gives.</summary>
    private void Deliver(NetDevice<TunnelDriver> device, [TakesOwnership] SkBuff skb, int received, SocketAddress source)
    {
        var peer = PeerIndexOf(source);
        var largestFrame = device.Mtu + NetDevice.LinkOverhead;
        var verdict = _keyedReceiver is { } keyed
            ? AcceptKeyed(skb, received, peer, largestFrame, keyed)
            : Accept(skb, received, peer >= 0, largestFrame);
        _rxVerdicts[(int)verdict]++;
        if (verdict != RxVerdict.Accepted)
        {
            skb.Drop(DropReasonOf(verdict));
            return;
        }
        _rxBytes += received;
        _rxSessions = _keyedReceiver?.SessionsStarted ?? 0;
        LearnFrom(peer, skb.Data, received);
        if (_coalescer is { } coalescer)
        {
            coalescer.Receive(skb);
        }
        else
        {
            device.NetifRx(skb);
        }
    }

    /// <summary>
    /// Judges one datagram of <paramref name="received"/> bytes read into <paramref name="skb"/>'s data
    /// (which holds fewer when the datagram was truncated): its source first, then its size, then its
    /// header. An accepted datagram's frame becomes the data (the header pulled, the protocol set); any
    /// other verdict leaves the frame as it is. The frame is borrowed.
    /// </summary>
    /// <remarks>Internal rather than private so that the fuzz target feeds it arbitrary datagrams.</remarks>
    internal static RxVerdict Accept(SkBuff skb, int received, bool fromPeer, int largestFrame)
    {
        var verdict = Inspect(skb.Data, received, fromPeer, largestFrame);
        if (verdict == RxVerdict.Accepted)
        {
            skb.Trim(received);
            skb.Pull(TunnelHeader.Length);
            skb.Protocol = BinaryPrimitives.ReadUInt16BigEndian(skb.Data[(2 * MacAddress.Length)..]);
        }
        return verdict;
    }

    private static RxVerdict Inspect(ReadOnlySpan<byte> buffer, int received, bool fromPeer, int largestFrame)
    {
        if (!fromPeer)
        {
            return RxVerdict.ForeignSource;
        }
        if (received > buffer.Length)
        {
            return RxVerdict.TooBig;
        }
        switch (TunnelHeader.Check(buffer[..received]))
        {
            case TunnelHeaderStatus.TooShort:
                return RxVerdict.TooShort;
            case TunnelHeaderStatus.BadMagic:
                return RxVerdict.BadMagic;
            case TunnelHeaderStatus.UnsupportedVersion:
                return RxVerdict.UnsupportedVersion;
            case TunnelHeaderStatus.UnknownType:
                return RxVerdict.UnknownType;
        }
        var frameLength = received - TunnelHeader.Length;
        if (frameLength < NetDevice.EthernetHeaderLength)
        {
            return RxVerdict.RuntFrame;
        }
        return frameLength > largestFrame ? RxVerdict.TooBig : RxVerdict.Accepted;
    }

    internal static DropReason DropReasonOf(RxVerdict verdict) => verdict switch
    {
        RxVerdict.ForeignSource => DropReason.ForeignSource,
        RxVerdict.TooShort or RxVerdict.RuntFrame => DropReason.PacketTooSmall,
        RxVerdict.BadMagic or RxVerdict.UnsupportedVersion => DropReason.InvalidHeader,
        RxVerdict.UnknownType => DropReason.UnhandledProtocol,
        RxVerdict.TooBig => DropReason.PacketTooBig,
        RxVerdict.Unauthenticated or RxVerdict.SessionLimited => DropReason.Unauthenticated,
        RxVerdict.AuthenticationFailed or RxVerdict.NewSessionFailed => DropReason.AuthenticationFailed,
        RxVerdict.Replayed or RxVerdict.StaleSession => DropReason.Replayed,
        _ => throw new ArgumentOutOfRangeException(nameof(verdict), verdict, "An accepted datagram is not dropped."),
    };

    /// <summary>Where the coalescer's frames go: the system, through the receive queue.</summary>
    private sealed class SystemSink(NetDevice device) : IFrameSink
    {
        public void Deliver([TakesOwnership] SkBuff frame) => device.NetifRx(frame);
    }
}
