using System.Numerics;

namespace NetDev.Drivers.Tunnel;

/// <summary>What <see cref="KeyedReceiver.Open"/> made of a keyed datagram.</summary>
public enum KeyedVerdict
{
    /// <summary>Authenticated, fresh, decrypted: the frame may be delivered.</summary>
    Accepted,

    /// <summary>A datagram of the current session whose tag does not verify (forged, tampered, or of another key).</summary>
    AuthenticationFailed,

    /// <summary>A packet number the current session already took, or older than its replay window.</summary>
    Replayed,

    /// <summary>A session that did not start after the peer's current one (an old run's datagrams, replayed or late).</summary>
    StaleSession,

    /// <summary>A new session tried again sooner than <see cref="KeyedReceiver.NewSessionInterval"/> after the last try: not even looked at.</summary>
    SessionLimited,

    /// <summary>A new session's first datagram whose tag does not verify (forged, or sent with another key).</summary>
    NewSessionFailed,
}

/// <summary>
/// The receiving half of the keyed format for every peer: the peer's current session (its key and one
/// <see cref="ReplayWindow"/> per lane), and the rules by which a new session replaces it.
/// </summary>
/// <remarks>
/// <para>A datagram of the current session is checked against the window of its lane first (cheap), then
/// authenticated and decrypted, and only then recorded in the window. A datagram of another session is taken
/// as the start of a new one only if that session started later than the current one (its id carries the
/// start time, so the datagrams of a peer's earlier run cannot be replayed once its new run was seen) and
/// it authenticates; it then becomes the current session, with fresh windows, and the old one is
/// forgotten. So a peer that restarts resumes without the other end restarting.</para>
/// <para>Deriving a new session's key costs a key derivation and an AEAD object: so new sessions are tried at
/// most once per <see cref="NewSessionInterval"/> per peer, and datagrams of another session in between are
/// dropped unread (<see cref="KeyedVerdict.SessionLimited"/>).</para>
/// <para>A bad tag would cost the exception <see cref="SessionCipher.Open"/> takes from the runtime (an
/// allocation and microseconds of unwinding), and a forger who copied the current session id from one sniffed
/// datagram can send bad tags with fresh packet numbers at line rate. So: a new session's datagram is always
/// opened with <see cref="SessionCipher.OpenWithoutException"/> (rate limited, its double cost does not matter);
/// a current-session datagram with <see cref="SessionCipher.Open"/> (one pass) until one fails, after which that
/// peer is <i>suspect</i> and its datagrams are opened with <see cref="SessionCipher.OpenWithoutException"/>
/// until <see cref="SuspectInterval"/> has passed since the last failure, then with the one pass again. A flood
/// of forgeries therefore costs one exception when it starts (<see cref="SuspectPeriods"/>) and no allocation
/// after it; genuine datagrams arriving meanwhile are accepted at about twice the cost of opening
/// (<see cref="VerifiedSlowly"/> counts them with the forgeries).</para>
/// <para><b>Invariants.</b> Used by one thread (the receive thread); the counters may be read from any. For each
/// peer, <c>Current</c> is null or the cipher of the last session that authenticated, and <c>Windows</c> holds
/// that session's windows; <c>Candidate</c> is null or the cipher of the last new session tried, which failed;
/// <c>Suspect</c> is set by a failed tag of <c>Current</c> and cleared by the first datagram after
/// <c>SuspectUntil</c>. <c>_scratch</c> is at least as long as every frame opened without exception so far.</para>
/// </remarks>
public sealed class KeyedReceiver : IDisposable
{
    /// <summary>How often, at most, a peer's datagrams of an unknown session are tried as a new session.</summary>
    public static readonly TimeSpan NewSessionInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>How long after its last failed tag a peer's current-session datagrams are opened without exception.</summary>
    public static readonly TimeSpan SuspectInterval = TimeSpan.FromSeconds(1);

    private readonly TunnelKey _key;
    private readonly PeerSessions[] _peers;
    private readonly TimeProvider _time;
    private readonly long _intervalTicks;
    private readonly long _suspectTicks;
    private byte[] _scratch = [];
    private long _verifiedSlowly;
    private long _suspectPeriods;

    /// <summary>Makes the receiving state of <paramref name="peerCount"/> peers that share <paramref name="key"/>.</summary>
    /// <param name="key">The static key.</param>
    /// <param name="peerCount">How many peers (indexes 0 to count − 1).</param>
    /// <param name="time">The clock of the new-session limit; the system's when omitted.</param>
    public KeyedReceiver(TunnelKey key, int peerCount, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(peerCount);
        _key = key;
        _time = time ?? TimeProvider.System;
        _intervalTicks = (long)(NewSessionInterval.TotalSeconds * _time.TimestampFrequency);
        _suspectTicks = (long)(SuspectInterval.TotalSeconds * _time.TimestampFrequency);
        _peers = new PeerSessions[peerCount];
        for (var i = 0; i < peerCount; i++)
        {
            _peers[i] = new PeerSessions { LastAttempt = long.MinValue / 2 };
        }
    }

    /// <summary>How many sessions became current, over all peers (the first of each peer, then one per restart).</summary>
    public long SessionsStarted { get; private set; }

    /// <summary>
    /// How many datagrams were opened with <see cref="SessionCipher.OpenWithoutException"/> (two passes, no
    /// exception), accepted or not: every new session's datagram tried, and a suspect peer's current-session ones.
    /// </summary>
    public long VerifiedSlowly => Volatile.Read(ref _verifiedSlowly);

    /// <summary>
    /// How many times a peer became suspect: a failed tag of its current session while it was not. Each cost the
    /// runtime's exception once; every other failure was judged without one.
    /// </summary>
    public long SuspectPeriods => Volatile.Read(ref _suspectPeriods);

    /// <summary>Whether <paramref name="peer"/> has a current session.</summary>
    public bool HasSession(int peer) => _peers[peer].Current is not null;

    /// <summary>
    /// Judges a keyed datagram from <paramref name="peer"/> (its header checked already, at least
    /// <see cref="KeyedFormat.Overhead"/> bytes): on <see cref="KeyedVerdict.Accepted"/> its frame is
    /// decrypted in place, between header and tag.
    /// </summary>
    public KeyedVerdict Open(int peer, Span<byte> datagram)
    {
        var state = _peers[peer];
        var sessionId = KeyedFormat.SessionIdOf(datagram);
        var packetNumber = KeyedFormat.PacketNumberOf(datagram);
        var lane = KeyedFormat.LaneOf(packetNumber);
        if (state.Current is { } current && current.IsSession(sessionId))
        {
            var window = state.Windows[lane];
            if (window is not null && !window.IsFresh(packetNumber))
            {
                return KeyedVerdict.Replayed;
            }
            if (!OpenCurrent(state, current, datagram))
            {
                return KeyedVerdict.AuthenticationFailed;
            }
            // The first datagram of a lane makes its window: once per lane and session, after authentication.
            (state.Windows[lane] ??= new ReplayWindow()).Accept(packetNumber);
            return KeyedVerdict.Accepted;
        }
        if (state.Current is not null && KeyedFormat.StartTicks(sessionId) <= KeyedFormat.StartTicks(state.Current.SessionId))
        {
            return KeyedVerdict.StaleSession;
        }
        var now = _time.GetTimestamp();
        if (now - state.LastAttempt < _intervalTicks)
        {
            return KeyedVerdict.SessionLimited;
        }
        state.LastAttempt = now;
        if (state.Candidate is null || !state.Candidate.IsSession(sessionId))
        {
            state.Candidate?.Dispose();
            state.Candidate = new SessionCipher(_key, sessionId);
        }
        _verifiedSlowly++;
        if (!state.Candidate.OpenWithoutException(datagram, Scratch(datagram.Length)))
        {
            return KeyedVerdict.NewSessionFailed;
        }
        state.Current?.Dispose();
        state.Current = state.Candidate;
        state.Candidate = null;
        state.Suspect = false;
        state.Windows = new ReplayWindow?[KeyedFormat.LaneCount];
        state.Windows[lane] = new ReplayWindow();
        state.Windows[lane]!.Accept(packetNumber);
        SessionsStarted++;
        return KeyedVerdict.Accepted;
    }

    /// <summary>
    /// Opens a datagram of the peer's current session: in one pass while the peer is not suspect, without
    /// exception while it is; a failure makes it suspect for <see cref="SuspectInterval"/> from now.
    /// </summary>
    private bool OpenCurrent(PeerSessions state, SessionCipher current, Span<byte> datagram)
    {
        // The clock is read only while the peer is suspect, or on a failure: not per datagram on the fast path.
        var now = 0L;
        if (state.Suspect)
        {
            now = _time.GetTimestamp();
            state.Suspect = now < state.SuspectUntil;
        }
        bool authentic;
        if (state.Suspect)
        {
            _verifiedSlowly++;
            authentic = current.OpenWithoutException(datagram, Scratch(datagram.Length));
        }
        else
        {
            authentic = current.Open(datagram);
            if (!authentic)
            {
                _suspectPeriods++;
                now = _time.GetTimestamp();
            }
        }
        if (!authentic)
        {
            state.Suspect = true;
            state.SuspectUntil = now + _suspectTicks;
        }
        return authentic;
    }

    /// <summary>A scratch buffer for the frame of a datagram <paramref name="datagramLength"/> long: grown (to a power of two) only when a larger frame comes.</summary>
    private Span<byte> Scratch(int datagramLength)
    {
        var frameLength = datagramLength - KeyedFormat.Overhead;
        if (_scratch.Length < frameLength)
        {
            _scratch = new byte[(int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(frameLength, 2048))];
        }
        return _scratch;
    }

    /// <summary>Releases every session's AEAD.</summary>
    public void Dispose()
    {
        foreach (var state in _peers)
        {
            state.Current?.Dispose();
            state.Candidate?.Dispose();
            state.Current = state.Candidate = null;
        }
    }

    private sealed class PeerSessions
    {
        public SessionCipher? Current;
        public ReplayWindow?[] Windows = [];
        public SessionCipher? Candidate;
        public long LastAttempt;
        public bool Suspect;
        public long SuspectUntil;
    }
}

/// <summary>
/// The sending half of the keyed format for one transmit queue (one lane): the run's session and the lane's
/// counter, so no two datagrams of the session share a nonce and no queue waits for another.
/// </summary>
/// <remarks><b>Invariants.</b> Used by its queue's thread only; <c>_next</c> only grows, and no packet number
/// is sealed twice: at <see cref="KeyedFormat.MaxCounter"/> the lane refuses to seal.</remarks>
public sealed class KeyedSender : IDisposable
{
    private readonly SessionCipher _cipher;
    private readonly int _lane;
    private ulong _next;

    /// <summary>Seals for session <paramref name="sessionId"/> under <paramref name="key"/> in lane <paramref name="lane"/>.</summary>
    public KeyedSender(TunnelKey key, ReadOnlySpan<byte> sessionId, int lane)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(lane);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(lane, KeyedFormat.LaneCount);
        _cipher = new SessionCipher(key, sessionId);
        _lane = lane;
    }

    /// <summary>How many datagrams this lane sealed.</summary>
    public ulong Sealed => _next;

    /// <summary>
    /// Seals <paramref name="datagram"/> (header room, frame, tag room) with the lane's next packet number;
    /// false, and nothing written, once the lane's counter is spent.
    /// </summary>
    public bool TrySeal(Span<byte> datagram)
    {
        if (_next > KeyedFormat.MaxCounter)
        {
            return false;
        }
        _cipher.Seal(datagram, KeyedFormat.PacketNumber(_lane, _next));
        _next++;
        return true;
    }

    /// <summary>Releases the AEAD.</summary>
    public void Dispose() => _cipher.Dispose();
}
