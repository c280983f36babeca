using System.Buffers.Binary;

namespace NetDev.Drivers.Tunnel;

/// <summary>
/// The tunnel's key: how a frame becomes a datagram (a plain header, or sealed under the run's session) and
/// how a keyed datagram is judged on receipt. One per-datagram step each way, kept apart from the I/O.
/// </summary>
public sealed partial class TunnelDriver
{
    // Set once by the constructor: this run's session id (keyed only), the receiving sessions of every peer,
    // what a frame needs in front of it to become a datagram, and what the receiver reserves in front of a
    // datagram so that its frame lands near the usual place.
    private byte[] _sessionId = [];
    private KeyedReceiver? _keyedReceiver;
    private int _encapsulationHeadroom = TunnelHeader.Length;
    private int _receiveFront = TunnelHeader.Length;

    /// <summary>Whether the tunnel has a key: every datagram is authenticated and encrypted, and nothing else is taken.</summary>
    public bool IsKeyed => Options.Key is not null;

    /// <summary>The session id this run seals under (16 bytes; empty without a key): new at every start, so no nonce repeats across restarts.</summary>
    public ReadOnlySpan<byte> SessionId => _sessionId;

    private void InitKey()
    {
        if (Options.Key is not { } key)
        {
            return;
        }
        // A frame whose tag does not fit behind it is moved forward by the tag's length first (rare), so the
        // headroom must hold both.
        _encapsulationHeadroom = KeyedFormat.HeaderLength + KeyedFormat.TagLength;
        // The datagram's header and the tag's worth more go in front, so a frame of the largest size and its
        // tag fit in a buffer sized for frames (the frame then starts 16 bytes into the usual headroom).
        _receiveFront = KeyedFormat.HeaderLength + KeyedFormat.TagLength;
        _sessionId = new byte[KeyedFormat.SessionIdLength];
        KeyedFormat.NewSessionId(_sessionId, (Options.Time ?? TimeProvider.System).GetUtcNow().UtcDateTime);
        _keyedReceiver = new KeyedReceiver(key, Peers.Count, Options.Time);
    }

    private KeyedSender? NewSender(int queue) => Options.Key is { } key ? new KeyedSender(key, _sessionId, queue) : null;

    /// <summary>
    /// Turns the frame's data into the datagram: the plain header pushed in front, or (keyed) the frame sealed in
    /// place between the keyed header and the tag. The 16 bytes the tag covers are saved into
    /// <paramref name="trailer"/> first; <see cref="RestoreTrailer"/> puts them back after the send.
    /// </summary>
    /// <returns>false when the frame cannot be sealed (its lane's counter is spent, or no room): dropped.</returns>
    private bool Encapsulate(TxCounters counters, SkBuff skb, Span<byte> trailer)
    {
        if (counters.Sender is not { } sender)
        {
            TunnelHeader.Ethernet.WriteTo(skb.Push(TunnelHeader.Length));
            return true;
        }
        var frameLength = skb.Length;
        if (skb.Tailroom < KeyedFormat.TagLength)
        {
            // The frame fills its buffer to the end: move it forward so the tag fits behind it (one copy, rare).
            skb.Push(KeyedFormat.TagLength);
            var data = skb.Data;
            data[KeyedFormat.TagLength..].CopyTo(data);
            skb.Trim(frameLength);
        }
        skb.Put(KeyedFormat.TagLength).CopyTo(trailer);
        skb.Push(KeyedFormat.HeaderLength);
        if (sender.TrySeal(skb.Data))
        {
            return true;
        }
        RestoreTrailer(skb, trailer);
        counters.CounterSpent = true;
        return false;
    }

    /// <summary>Puts back the bytes the tag was written over (the start of the next segment, or unused room).</summary>
    private void RestoreTrailer(SkBuff skb, ReadOnlySpan<byte> trailer)
    {
        if (IsKeyed)
        {
            trailer.CopyTo(skb.Data[^KeyedFormat.TagLength..]);
        }
    }

    /// <summary>
    /// Judges a datagram of <paramref name="received"/> bytes read into <paramref name="skb"/>'s data, for a keyed
    /// tunnel: source, size and header as <see cref="Accept"/> does (a plain, version-1 datagram is
    /// <see cref="RxVerdict.Unauthenticated"/>), then the session, the replay window and the tag
    /// (<see cref="KeyedReceiver.Open"/>). An accepted datagram's frame becomes the data, decrypted; any other
    /// verdict leaves nothing readable of the frame delivered. The frame is borrowed.
    /// </summary>
    /// <remarks>Internal rather than private so that the fuzz target feeds it arbitrary datagrams.</remarks>
    internal static RxVerdict AcceptKeyed(SkBuff skb, int received, int peer, int largestFrame, KeyedReceiver receiver)
    {
        var buffer = skb.Data;
        if (peer < 0)
        {
            return RxVerdict.ForeignSource;
        }
        if (received > buffer.Length)
        {
            return RxVerdict.TooBig;
        }
        var datagram = buffer[..received];
        switch (TunnelHeader.Check(datagram, TunnelHeader.KeyedVersion))
        {
            case TunnelHeaderStatus.TooShort:
                return RxVerdict.TooShort;
            case TunnelHeaderStatus.BadMagic:
                return RxVerdict.BadMagic;
            case TunnelHeaderStatus.UnsupportedVersion:
                return datagram[2] == TunnelHeader.CurrentVersion ? RxVerdict.Unauthenticated : RxVerdict.UnsupportedVersion;
            case TunnelHeaderStatus.UnknownType:
                return RxVerdict.UnknownType;
        }
        if (received < KeyedFormat.Overhead)
        {
            return RxVerdict.TooShort;
        }
        var frameLength = received - KeyedFormat.Overhead;
        if (frameLength < NetDevice.EthernetHeaderLength)
        {
            return RxVerdict.RuntFrame;
        }
        if (frameLength > largestFrame)
        {
            return RxVerdict.TooBig;
        }
        var verdict = receiver.Open(peer, datagram) switch
        {
            KeyedVerdict.Accepted => RxVerdict.Accepted,
            KeyedVerdict.AuthenticationFailed => RxVerdict.AuthenticationFailed,
            KeyedVerdict.Replayed => RxVerdict.Replayed,
            KeyedVerdict.StaleSession => RxVerdict.StaleSession,
            KeyedVerdict.SessionLimited => RxVerdict.SessionLimited,
            _ => RxVerdict.NewSessionFailed,
        };
        if (verdict == RxVerdict.Accepted)
        {
            skb.Trim(received - KeyedFormat.TagLength);
            skb.Pull(KeyedFormat.HeaderLength);
            skb.Protocol = BinaryPrimitives.ReadUInt16BigEndian(skb.Data[(2 * MacAddress.Length)..]);
        }
        return verdict;
    }

    private void AddKeyedStatistics(List<KeyValuePair<string, long>> statistics)
    {
        if (!IsKeyed)
        {
            return;
        }
        statistics.Add(new("tunnel_rx_unauthenticated", RxCount(RxVerdict.Unauthenticated)));
        statistics.Add(new("tunnel_rx_auth_failed", RxCount(RxVerdict.AuthenticationFailed)));
        statistics.Add(new("tunnel_rx_new_session_failed", RxCount(RxVerdict.NewSessionFailed)));
        statistics.Add(new("tunnel_rx_replayed", RxCount(RxVerdict.Replayed)));
        statistics.Add(new("tunnel_rx_stale_session", RxCount(RxVerdict.StaleSession)));
        statistics.Add(new("tunnel_rx_session_limited", RxCount(RxVerdict.SessionLimited)));
        statistics.Add(new("tunnel_rx_sessions", Volatile.Read(ref _rxSessions)));
        statistics.Add(new("tunnel_tx_counter_spent", _txCounters.Count(c => c.CounterSpent)));
    }

    /// <summary>Releases the session ciphers; after the receive thread ended and no queue sends any more.</summary>
    private void DisposeKeys()
    {
        _keyedReceiver?.Dispose();
        foreach (var counters in _txCounters)
        {
            counters.Sender?.Dispose();
        }
    }
}
