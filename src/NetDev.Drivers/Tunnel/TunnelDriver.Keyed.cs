namespace NetDev.Drivers.Tunnel;

/// <summary>
/// The tunnel's key: how a frame becomes a datagram (a plain header, or sealed under the run's session) and
/// how a keyed datagram is judged on receipt. One per-datagram step each way, kept apart from the I/O.
/// </summary>
public sealed partial class TunnelDriver
{
    // Set once by the constructor: this run's session id (keyed only) and the receiving sessions of every peer.
    private byte[] _sessionId = [];
    private KeyedReceiver? _keyedReceiver;

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
        _datagramHeaderLength = KeyedFormat.HeaderLength;
        _datagramTrailerLength = KeyedFormat.TagLength;
        _sessionId = new byte[KeyedFormat.SessionIdLength];
        KeyedFormat.NewSessionId(_sessionId, (Options.Time ?? TimeProvider.System).GetUtcNow().UtcDateTime);
        _keyedReceiver = new KeyedReceiver(key, Peers.Count, Options.Time);
    }

    private KeyedSender? NewSender(int queue) => Options.Key is { } key ? new KeyedSender(key, _sessionId, queue) : null;

    /// <summary>
    /// The per-datagram step on send: makes <paramref name="datagram"/> (header room, frame, trailer room) a wire
    /// datagram — the plain header written, or (keyed) the frame sealed in place between keyed header and tag.
    /// </summary>
    /// <returns>false when the lane's counter is spent (after 2^56 datagrams): the frame is dropped rather than a nonce reused.</returns>
    private static bool Wrap(TxCounters counters, Span<byte> datagram)
    {
        if (counters.Sender is not { } sender)
        {
            TunnelHeader.Ethernet.WriteTo(datagram);
            return true;
        }
        if (sender.TrySeal(datagram))
        {
            return true;
        }
        counters.CounterSpent = true;
        return false;
    }

    /// <summary>
    /// Makes room for the tag behind a frame that fills its buffer to the end, by moving it forward by the tag's
    /// length (one copy, only for such frames); false when the headroom cannot take that as well.
    /// </summary>
    private bool MakeTrailerRoom(SkBuff skb)
    {
        if (skb.Headroom < _datagramHeaderLength + _datagramTrailerLength)
        {
            return false;
        }
        var frameLength = skb.Length;
        skb.Push(_datagramTrailerLength);
        var data = skb.Data;
        data[_datagramTrailerLength..].CopyTo(data);
        skb.Trim(frameLength);
        return true;
    }

    /// <summary>
    /// The per-datagram step on receive, keyed: judges <paramref name="datagram"/> (its first bytes; <paramref name="received"/>
    /// is its real length) from peer <paramref name="peer"/> (-1: a stranger) — source, size and header as
    /// <see cref="Inspect"/> does (a plain, version-1 datagram is <see cref="RxVerdict.Unauthenticated"/>), then the
    /// session, the replay window and the tag (<see cref="KeyedReceiver.Open"/>). On <see cref="RxVerdict.Accepted"/>
    /// the frame between header and tag is decrypted in place.
    /// </summary>
    /// <remarks>Internal rather than private so that the fuzz target feeds it arbitrary datagrams.</remarks>
    internal static RxVerdict InspectKeyed(Span<byte> datagram, int received, int peer, int largestFrame, KeyedReceiver receiver)
    {
        if (peer < 0)
        {
            return RxVerdict.ForeignSource;
        }
        if (received > datagram.Length)
        {
            return RxVerdict.TooBig;
        }
        var whole = datagram[..received];
        switch (TunnelHeader.Check(whole, TunnelHeader.KeyedVersion))
        {
            case TunnelHeaderStatus.TooShort:
                return RxVerdict.TooShort;
            case TunnelHeaderStatus.BadMagic:
                return RxVerdict.BadMagic;
            case TunnelHeaderStatus.UnsupportedVersion:
                return whole[2] == TunnelHeader.CurrentVersion ? RxVerdict.Unauthenticated : RxVerdict.UnsupportedVersion;
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
        return receiver.Open(peer, whole) switch
        {
            KeyedVerdict.Accepted => RxVerdict.Accepted,
            KeyedVerdict.AuthenticationFailed => RxVerdict.AuthenticationFailed,
            KeyedVerdict.Replayed => RxVerdict.Replayed,
            KeyedVerdict.StaleSession => RxVerdict.StaleSession,
            KeyedVerdict.SessionLimited => RxVerdict.SessionLimited,
            _ => RxVerdict.NewSessionFailed,
        };
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
        statistics.Add(new("tunnel_rx_verified_slowly", _keyedReceiver!.VerifiedSlowly));
        statistics.Add(new("tunnel_rx_suspect_periods", _keyedReceiver.SuspectPeriods));
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
