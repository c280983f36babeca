using System.Buffers.Binary;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using NetDev.Linux;
using NetDev.Offload;

namespace NetDev.Drivers.Tunnel;

/// <summary>The receive half of the tunnel: one dedicated thread reading datagrams into pooled frames.</summary>
public sealed partial class TunnelDriver
{
    /// <summary>Received frames go to this queue; the tunnel has one receive thread.</summary>
    private const int ReceiveQueue = 0;

    private const int MaxErrorBackoffMilliseconds = 100;

    /// <summary>Messages per receive with UDP GRO: each may carry up to 64 KiB of merged datagrams.</summary>
    private const int CoalescedReceiveSlots = 8;

    /// <summary>
    /// With receive coalescing, how many datagrams already waiting are taken before the held frames go out:
    /// a NAPI poll's budget. Taking stops sooner when nothing waits or nothing is held.
    /// </summary>
    private const int CoalescingBudget = NetDevice.ReceiveBatchSize;

    /// <summary>Datagrams per receive with <c>recvmmsg</c> alone.</summary>
    private const int BatchedReceiveSlots = 16;

    // Written only by the receive thread (plain writes), read elsewhere with Volatile.Read.
    private readonly long[] _rxVerdicts = new long[Enum.GetValues<RxVerdict>().Length];
    private long _rxBytes;
    private long _rxSocketErrors;
    private long _rxCoalescedSegments;
    private long _rxCoalescedFrames;
    private long _rxCalls;
    private long _rxSessions;
    private int _lastLoggedReceiveErrno;

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
        device.Queues[ReceiveQueue].RxPool.BindToCurrentThread();
        var batch = new DatagramReceiveBatch(_datagrams.ReceivePath switch
        {
            DatagramReceivePath.Coalesced => CoalescedReceiveSlots,
            DatagramReceivePath.Batched => BatchedReceiveSlots,
            _ => 1,
        });
        var frames = new FrameBatch(device);
        var coalescer = IsCoalescing ? new GroCoalescer(frames, device.Features) : null;
        // The most frames this thread holds at once: a full batch for the system, one merged frame per flow the
        // coalescer tracks, and the one being filled. Reserved now, the pool never grows on the packet path.
        device.Queues[ReceiveQueue].RxPool.Reserve(NetDevice.ReceiveBatchSize + (coalescer is null ? 0 : GroCoalescer.DefaultMaxFlows) + 1);
        var consecutiveErrors = 0;
        try
        {
            try
            {
                while (!_stopping)
                {
                    // One round is a NAPI poll: a receive, and while frames are held for merging, more receives
                    // of what already waits (up to the budget), then everything held goes on. So coalescing
                    // never makes a frame wait for a datagram that has not arrived.
                    var taken = 0;
                    do
                    {
                        var count = ReceiveBatch(batch);
                        if (_stopping)
                        {
                            break;
                        }
                        if (count == 0)
                        {
                            // A persistent error must not turn this thread into a busy loop.
                            consecutiveErrors++;
                            Thread.Sleep(Math.Min(consecutiveErrors, MaxErrorBackoffMilliseconds));
                            break;
                        }
                        consecutiveErrors = 0;
                        _rxCalls++;
                        for (var i = 0; i < count; i++)
                        {
                            taken += DeliverMessage(device, batch, i, frames, coalescer);
                        }
                    }
                    while (coalescer is { HeldCount: > 0 } && taken < CoalescingBudget && DatagramWaiting());
                    Flush(frames, coalescer);
                }
            }
            finally
            {
                Flush(frames, coalescer);
            }
        }
        catch (Exception error)
        {
            // Nobody waits for this thread's result, so the failure goes to the device rather than into the void
            // (an unhandled exception would end the whole process): it is degraded, and tools show it.
            device.Degrade(new InvalidOperationException($"The tunnel's receive thread failed and ended; no more frames will be received: {error.Message}", error));
        }
    }

    /// <summary>Waits for datagrams and fills <paramref name="batch"/>; returns how many messages it holds (0 when none, the error counted).</summary>
    private int ReceiveBatch(DatagramReceiveBatch batch)
    {
        int count, errno;
        try
        {
            count = _datagrams.Receive(batch, out errno);
        }
        catch (ObjectDisposedException) when (_stopping)
        {
            return 0;
        }
        if (count > 0 || _stopping)
        {
            return count;
        }
        _rxSocketErrors++;
        if (errno != _lastLoggedReceiveErrno)
        {
            _lastLoggedReceiveErrno = errno;
            _device!.Logger.LogWarning("{Device}: receiving failed: {Error}; retrying, and counting errors while it lasts",
                _device.Name, Errno.NameOf(errno));
        }
        return 0;
    }

    /// <summary>
    /// Judges and hands on the datagrams of message <paramref name="index"/>: one datagram, or each of the
    /// datagrams UDP GRO merged into it, one at a time. Returns how many datagrams it held.
    /// </summary>
    private int DeliverMessage(NetDevice<TunnelDriver> device, DatagramReceiveBatch batch, int index, FrameBatch frames, GroCoalescer? coalescer)
    {
        var peer = PeerIndexOf(batch, index);
        var message = batch.Datagram(index);
        var received = batch.ReceivedLength(index);
        var segmentSize = batch.SegmentSize(index);
        if (segmentSize <= 0 || received > message.Length)
        {
            DeliverDatagram(device, message, received, peer, frames, coalescer);
            return 1;
        }
        var datagrams = 0;
        foreach (var datagram in new GroSegments(message, segmentSize))
        {
            DeliverDatagram(device, datagram, datagram.Length, peer, frames, coalescer);
            datagrams++;
        }
        return datagrams;
    }

    /// <summary>Whether a datagram waits in the socket, so receiving it will not block (<c>FIONREAD</c>).</summary>
    private bool DatagramWaiting()
    {
        try
        {
            return !_stopping && _datagrams.Socket.Available > 0;
        }
        catch (Exception error) when (error is SocketException or ObjectDisposedException)
        {
            // Closed under us, or failing: the receive that follows sees and handles it.
            return false;
        }
    }

    /// <summary>Judges one datagram and hands its frame on (merged, or copied into a frame of its own), or drops and counts it.</summary>
    private void DeliverDatagram(NetDevice<TunnelDriver> device, Span<byte> datagram, int received, int peer, FrameBatch frames, GroCoalescer? coalescer)
    {
        // Each datagram (also each one of a GRO super-datagram) is judged on its own, and with a key opened
        // (replay-checked, authenticated and decrypted in place) before anything else looks at its frame.
        var largestFrame = device.Mtu + NetDevice.LinkOverhead;
        var verdict = _keyedReceiver is { } keyed
            ? InspectKeyed(datagram, received, peer, largestFrame, keyed)
            : Inspect(datagram, received, peer >= 0, largestFrame, _datagramHeaderLength, _datagramTrailerLength);
        _rxVerdicts[(int)verdict]++;
        var skb = default(SkBuff);
        if (verdict != RxVerdict.Accepted)
        {
            // The drop is counted the way every drop is: as a frame released with its reason.
            skb = device.AllocSkb(ReceiveQueue);
            skb.Drop(DropReasonOf(verdict));
            return;
        }
        _rxBytes += received;
        var frame = datagram[_datagramHeaderLength..(received - _datagramTrailerLength)];
        _rxSessions = _keyedReceiver?.SessionsStarted ?? 0;
        LearnFrom(peer, frame, received);
        if (coalescer is not null && coalescer.TryMerge(frame))
        {
            return;
        }
        skb = device.AllocSkb(ReceiveQueue);
        frame.CopyTo(skb.Put(frame.Length));
        skb.Protocol = BinaryPrimitives.ReadUInt16BigEndian(frame[(2 * MacAddress.Length)..]);
        if (coalescer is not null)
        {
            coalescer.Receive(skb);
        }
        else
        {
            frames.Deliver(skb);
        }
    }

    private void Flush(FrameBatch frames, GroCoalescer? coalescer)
    {
        if (coalescer is not null)
        {
            coalescer.Flush();
            _rxCoalescedSegments = coalescer.MergedSegments;
            _rxCoalescedFrames = coalescer.MergedFrames;
        }
        frames.Flush();
    }

    /// <summary>
    /// Judges one datagram of <paramref name="received"/> bytes whose first bytes <paramref name="datagram"/>
    /// holds (fewer when it was truncated): its source first, then its size, then its header. An accepted
    /// datagram's frame is the bytes between the <paramref name="headerLength"/>-byte header and the
    /// <paramref name="trailerLength"/>-byte trailer.
    /// </summary>
    /// <remarks>Internal rather than private so that the fuzz target feeds it arbitrary datagrams.</remarks>
    internal static RxVerdict Inspect(ReadOnlySpan<byte> datagram, int received, bool fromPeer, int largestFrame, int headerLength, int trailerLength)
    {
        if (!fromPeer)
        {
            return RxVerdict.ForeignSource;
        }
        if (received > datagram.Length)
        {
            return RxVerdict.TooBig;
        }
        switch (TunnelHeader.Check(datagram[..received]))
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
        var frameLength = received - headerLength - trailerLength;
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

    /// <summary>
    /// Where received frames go: the system, through the receive queue, <see cref="NetDevice.ReceiveBatchSize"/>
    /// at a time (<see cref="NetDevice.NetifReceiveBatch(ReadOnlySpan{SkBuff}, int)"/>), and the rest at
    /// <see cref="Flush"/>. The coalescer's sink, and the receive thread's when it does not coalesce.
    /// </summary>
    /// <remarks><b>Invariants.</b> The first <c>_count</c> entries of <c>_frames</c> are live frames owned here;
    /// used only by the receive thread.</remarks>
    private sealed class FrameBatch(NetDevice device) : IFrameSink
    {
        private readonly SkBuff[] _frames = new SkBuff[NetDevice.ReceiveBatchSize];
        private int _count;

        public void Deliver([TakesOwnership] SkBuff frame)
        {
            _frames[_count++] = frame;
            if (_count == _frames.Length)
            {
                Flush();
            }
        }

        public void Flush()
        {
            var count = _count;
            _count = 0;
            if (count > 0)
            {
                // A batch of ReceiveBatchSize frames at most is taken whole (delivered or dropped, each counted).
                device.NetifReceiveBatch(_frames.AsSpan(0, count));
                Array.Clear(_frames, 0, count);
            }
        }
    }
}

/// <summary>
/// The datagrams of a UDP GRO super-datagram: <c>segmentSize</c> bytes each, the last what is left.
/// </summary>
/// <remarks><b>Invariants.</b> <c>_offset</c> is the start of the next datagram, at most the message's length;
/// <c>_segmentSize</c> ≥ 1.</remarks>
internal ref struct GroSegments
{
    private readonly Span<byte> _message;
    private readonly int _segmentSize;
    private int _offset;

    /// <summary>Walks <paramref name="message"/> in datagrams of <paramref name="segmentSize"/> bytes (at least 1).</summary>
    public GroSegments(Span<byte> message, int segmentSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(segmentSize, 1);
        _message = message;
        _segmentSize = segmentSize;
        _offset = 0;
        Current = default;
    }

    /// <summary>The datagram the walk is at.</summary>
    public Span<byte> Current { get; private set; }

    public readonly GroSegments GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_offset >= _message.Length)
        {
            return false;
        }
        var length = Math.Min(_segmentSize, _message.Length - _offset);
        Current = _message.Slice(_offset, length);
        _offset += length;
        return true;
    }
}
