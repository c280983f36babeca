using System.Buffers.Binary;
using System.Diagnostics;

namespace NetDev.Diagnostics;

/// <summary>
/// A capture attached to one device: a copy of every frame the driver sees — those the system transmits through
/// the device as they are read for the driver, those the driver hands to the system as they are delivered — and,
/// when asked, of every frame dropped with its reason, in a bounded ring that one reader empties
/// (<see cref="TryRead"/>). <c>netdev capture</c> reads it through the control endpoint and writes pcapng.
/// </summary>
/// <remarks>
/// <para>While no capture is attached the packet path pays one branch on a field that is null. While one is, each
/// frame is copied into the ring under the capture's lock (the price of capturing, paid only then). A ring that is
/// full — its reader is slower than the device — loses the frame, counted in <see cref="Lost"/>; it never makes
/// the device wait.</para>
/// <para><b>Invariants.</b> <c>_written</c> and <c>_read</c> are byte positions that only grow, with
/// <c>_read ≤ _written ≤ _read + capacity</c>; the bytes between them are whole records (a header of
/// <see cref="RecordHeader"/> bytes, then the frame's captured bytes, padded to 8), or a wrap marker (length -1)
/// that fills the ring's end. Producers change <c>_written</c> and write records only under <c>_lock</c> and only
/// outside the unread region; the one reader reads the unread region without the lock and moves <c>_read</c>
/// under it.</para>
/// </remarks>
public sealed class FrameCapture : IDisposable
{
    /// <summary>The ring's default size: some 2,700 full-size frames, or 20,000 small ones.</summary>
    public const int DefaultRingBytes = 4 << 20;

    /// <summary>The most of a frame kept by default: all of it, 64 KiB segments of an offloading device included.</summary>
    public const int DefaultSnapLength = 65535 + NetDevice.MaxLinkOverhead;

    private const int RecordHeader = 24;
    private const int WrapMarker = -1;
    private static int s_dropCaptures;

    private readonly NetDevice _device;
    private readonly object _lock = new();
    private readonly byte[] _ring;
    private readonly long _startTimestamp = Stopwatch.GetTimestamp();
    private readonly long _startUnixNanoseconds = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
    private long _written;
    private long _read;
    private long _captured;
    private long _lost;
    private bool _detached;

    private FrameCapture(NetDevice device, bool includeDrops, int snapLength, int ringBytes)
    {
        _device = device;
        IncludeDrops = includeDrops;
        _ring = new byte[ringBytes];
        SnapLength = Math.Min(snapLength, ringBytes / 4 - RecordHeader);
    }

    /// <summary>The device captured.</summary>
    public NetDevice Device => _device;

    /// <summary>Whether dropped frames are captured too.</summary>
    public bool IncludeDrops { get; }

    /// <summary>The most bytes of one frame kept; a longer frame is cut, its length kept.</summary>
    public int SnapLength { get; }

    /// <summary>Frames put into the ring.</summary>
    public long Captured => Interlocked.Read(ref _captured);

    /// <summary>Frames lost because the ring was full: the reader was slower than the device.</summary>
    public long Lost => Interlocked.Read(ref _lost);

    /// <summary>Whether a capture with drops is attached to some device: the drop site asks before it looks further.</summary>
    internal static bool AnyWantsDrops => Volatile.Read(ref s_dropCaptures) != 0;

    /// <summary>
    /// Attaches a capture to <paramref name="device"/>; it captures until disposed. Several captures may be
    /// attached at once, each with its own ring.
    /// </summary>
    /// <param name="device">The device.</param>
    /// <param name="includeDrops">Capture dropped frames too, with their reason.</param>
    /// <param name="snapLength">The most bytes of a frame kept (at least 64).</param>
    /// <param name="ringBytes">The ring's size in bytes (a multiple of 8, at least 64 KiB).</param>
    public static FrameCapture Start(NetDevice device, bool includeDrops = false, int snapLength = DefaultSnapLength, int ringBytes = DefaultRingBytes)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfLessThan(snapLength, 64);
        ArgumentOutOfRangeException.ThrowIfLessThan(ringBytes, 64 << 10);
        if (ringBytes % 8 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ringBytes), ringBytes, "The ring's size must be a multiple of 8.");
        }
        var capture = new FrameCapture(device, includeDrops, snapLength, ringBytes);
        if (includeDrops)
        {
            Interlocked.Increment(ref s_dropCaptures);
        }
        device.AttachCapture(capture);
        return capture;
    }

    /// <summary>
    /// Takes the oldest captured frame: its bytes (at most <see cref="SnapLength"/>) into <paramref name="destination"/>
    /// and what is known of it into <paramref name="frame"/>. One reader at a time.
    /// </summary>
    /// <returns>False when the ring is empty.</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <see cref="SnapLength"/>.</exception>
    public bool TryRead(Span<byte> destination, out CapturedFrameInfo frame)
    {
        if (destination.Length < SnapLength)
        {
            throw new ArgumentException($"The destination must hold {SnapLength} bytes.", nameof(destination));
        }
        long read, written;
        lock (_lock)
        {
            read = _read;
            written = _written;
        }
        if (read == written)
        {
            frame = default;
            return false;
        }
        var offset = (int)(read % _ring.Length);
        var record = _ring.AsSpan(offset);
        var size = BinaryPrimitives.ReadInt32LittleEndian(record);
        if (size == WrapMarker)
        {
            read += _ring.Length - offset;
            record = _ring;
            size = BinaryPrimitives.ReadInt32LittleEndian(record);
        }
        var length = BinaryPrimitives.ReadInt32LittleEndian(record[4..]);
        var captured = BinaryPrimitives.ReadInt32LittleEndian(record[8..]);
        var kind = record[12];
        var reason = (DropReason)record[13];
        var queue = BinaryPrimitives.ReadUInt16LittleEndian(record[14..]);
        var timestamp = BinaryPrimitives.ReadInt64LittleEndian(record[16..]);
        record.Slice(RecordHeader, captured).CopyTo(destination);
        frame = new CapturedFrameInfo(
            (kind & 1) == 0 ? TrafficDirection.Transmit : TrafficDirection.Receive,
            (kind & 2) != 0 ? reason : null,
            queue, length, captured, ToUnixNanoseconds(timestamp));
        lock (_lock)
        {
            _read = read + size;
        }
        return true;
    }

    /// <summary>Detaches the capture from its device; frames still in the ring can be read.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_detached)
            {
                return;
            }
            _detached = true;
        }
        _device.DetachCapture(this);
        if (IncludeDrops)
        {
            Interlocked.Decrement(ref s_dropCaptures);
        }
    }

    /// <summary>Copies a frame the driver sees into the ring, or counts it lost when there is no room. Any thread.</summary>
    internal void Offer(TrafficDirection direction, int queue, ReadOnlySpan<byte> frame, DropReason? dropped)
    {
        if (dropped is not null && !IncludeDrops)
        {
            return;
        }
        var captured = Math.Min(frame.Length, SnapLength);
        var size = (RecordHeader + captured + 7) & ~7;
        lock (_lock)
        {
            if (_detached)
            {
                return;
            }
            var offset = (int)(_written % _ring.Length);
            var toEnd = _ring.Length - offset;
            var wrap = toEnd < size ? toEnd : 0;
            if (_written + wrap + size - _read > _ring.Length)
            {
                _lost++;
                return;
            }
            if (wrap > 0)
            {
                BinaryPrimitives.WriteInt32LittleEndian(_ring.AsSpan(offset), WrapMarker);
                _written += wrap;
                offset = 0;
            }
            var record = _ring.AsSpan(offset, size);
            BinaryPrimitives.WriteInt32LittleEndian(record, size);
            BinaryPrimitives.WriteInt32LittleEndian(record[4..], frame.Length);
            BinaryPrimitives.WriteInt32LittleEndian(record[8..], captured);
            record[12] = (byte)((direction == TrafficDirection.Transmit ? 0 : 1) | (dropped is null ? 0 : 2));
            record[13] = (byte)dropped.GetValueOrDefault();
            BinaryPrimitives.WriteUInt16LittleEndian(record[14..], (ushort)queue);
            // Taken under the lock, so the ring's order is the timestamps' order across queues.
            BinaryPrimitives.WriteInt64LittleEndian(record[16..], Stopwatch.GetTimestamp());
            frame[..captured].CopyTo(record[RecordHeader..]);
            _written += size;
            _captured++;
        }
    }

    private long ToUnixNanoseconds(long timestamp) =>
        _startUnixNanoseconds + (long)((timestamp - _startTimestamp) * (1_000_000_000.0 / Stopwatch.Frequency));
}

/// <summary>What a capture knows of one frame, besides its bytes.</summary>
/// <param name="Direction">Transmit (the system sent it through the device) or receive (the device handed it to the system).</param>
/// <param name="DropReason">Why it was dropped, or <see langword="null"/> for a frame that went on.</param>
/// <param name="Queue">The queue it belonged to.</param>
/// <param name="Length">Its length in bytes.</param>
/// <param name="CapturedLength">How many of its bytes were kept.</param>
/// <param name="UnixNanoseconds">When it was captured, in nanoseconds since 1970 (UTC).</param>
public readonly record struct CapturedFrameInfo(TrafficDirection Direction, DropReason? DropReason, int Queue, int Length, int CapturedLength, long UnixNanoseconds);
