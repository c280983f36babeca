using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace NetDev.Linux;

/// <summary>
/// Room for the datagrams one <see cref="UdpDatagramSocket.Receive"/> takes: <see cref="Capacity"/> slots of
/// <see cref="SlotLength"/> bytes, each with its source address and control bytes, and the message headers
/// that point at them — made once and reused by every receive, so receiving allocates nothing.
/// </summary>
/// <remarks>
/// <para>After a receive, slots 0 to <see cref="Count"/> − 1 hold one message each: its bytes
/// (<see cref="Datagram"/>), the length the kernel reported (<see cref="ReceivedLength"/>, larger than the slot
/// when the message was truncated), its sender (<see cref="IsFrom"/>, <see cref="Source"/>) and, when UDP GRO
/// merged several datagrams of that sender, their size (<see cref="SegmentSize"/>: every datagram in the slot
/// is that long but the last). Use one batch on one thread.</para>
/// <para><b>Invariants.</b> Every array is allocated once, pinned (on the pinned object heap), and lives as long
/// as the batch, so the pointers in <c>_headers</c> and <c>_vectors</c> stay valid; header <c>i</c> points at slot
/// <c>i</c>'s data, name and control bytes and nothing else. <see cref="Count"/> ≤ <see cref="Capacity"/>.</para>
/// </remarks>
public sealed unsafe class DatagramReceiveBatch
{
    /// <summary>A slot's size by default: the largest UDP payload, and what UDP GRO merges at most.</summary>
    public const int DefaultSlotLength = 65536;

    /// <summary>The room for a source address (<c>sizeof(struct sockaddr_storage)</c>).</summary>
    private const int NameSpace = 128;

    /// <summary>The room for control messages per slot; UDP GRO's needs 24 bytes.</summary>
    private const int ControlSpace = 64;

    private readonly byte[] _data;
    private readonly byte[] _names;
    private readonly byte[] _control;
    private readonly Interop.MultiMessageHeader[] _headers;
    private readonly Interop.IoVec[] _vectors;
    private readonly int[] _received;
    private readonly int[] _segmentSizes;

    /// <summary>Makes room for <paramref name="capacity"/> messages of up to <paramref name="slotLength"/> bytes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A capacity outside 1 to 1024, or a slot shorter than 1 byte.</exception>
    public DatagramReceiveBatch(int capacity, int slotLength = DefaultSlotLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, 1024);
        ArgumentOutOfRangeException.ThrowIfLessThan(slotLength, 1);
        Capacity = capacity;
        SlotLength = slotLength;
        _data = GC.AllocateArray<byte>(capacity * slotLength, pinned: true);
        _names = GC.AllocateArray<byte>(capacity * NameSpace, pinned: true);
        _control = GC.AllocateArray<byte>(capacity * ControlSpace, pinned: true);
        _headers = GC.AllocateArray<Interop.MultiMessageHeader>(capacity, pinned: true);
        _vectors = GC.AllocateArray<Interop.IoVec>(capacity, pinned: true);
        _received = new int[capacity];
        _segmentSizes = new int[capacity];
        for (var i = 0; i < capacity; i++)
        {
            // SAFETY: the arrays are pinned for the batch's life (see Invariants), so these addresses stay valid;
            // each points at slot i's own part of its array.
            _vectors[i] = new Interop.IoVec { Base = (byte*)Marshal.UnsafeAddrOfPinnedArrayElement(_data, i * slotLength), Length = (nuint)slotLength };
        }
    }

    /// <summary>How many messages one receive takes at most.</summary>
    public int Capacity { get; }

    /// <summary>The bytes of each slot; a longer message is truncated (<see cref="ReceivedLength"/> tells).</summary>
    public int SlotLength { get; }

    /// <summary>How many slots the last receive filled.</summary>
    public int Count { get; private set; }

    /// <summary>The bytes slot <paramref name="index"/> holds: the message, or its first <see cref="SlotLength"/> bytes.</summary>
    public Span<byte> Datagram(int index) => _data.AsSpan(CheckedIndex(index) * SlotLength, Math.Min(_received[index], SlotLength));

    /// <summary>The length of message <paramref name="index"/> as the kernel reported it (<c>MSG_TRUNC</c>): more than <see cref="SlotLength"/> when it did not fit.</summary>
    public int ReceivedLength(int index) => _received[CheckedIndex(index)];

    /// <summary>0 for one datagram; otherwise the size of each of the datagrams UDP GRO merged into slot <paramref name="index"/> (the last may be shorter).</summary>
    public int SegmentSize(int index) => _segmentSizes[CheckedIndex(index)];

    /// <summary>The sender of message <paramref name="index"/>, as the kernel's <c>sockaddr</c> bytes.</summary>
    public ReadOnlySpan<byte> Source(int index)
    {
        var header = _headers[CheckedIndex(index)].Header;
        return _names.AsSpan(index * NameSpace, (int)Math.Min(header.NameLength, NameSpace));
    }

    /// <summary>Whether message <paramref name="index"/> came from <paramref name="address"/> (address and port, byte for byte).</summary>
    public bool IsFrom(int index, SocketAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return Source(index).SequenceEqual(address.Buffer.Span[..address.Size]);
    }

    /// <summary>The sender of message <paramref name="index"/> as an end point (allocates: for logs and tests, not per datagram).</summary>
    public IPEndPoint SourceEndPoint(int index, AddressFamily family)
    {
        var source = Source(index);
        var address = new SocketAddress(family, source.Length);
        source.CopyTo(address.Buffer.Span);
        return (IPEndPoint)new IPEndPoint(family == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0).Create(address);
    }

    /// <summary>Readies every slot for a receive of up to <paramref name="count"/> messages: the kernel overwrites the lengths each time.</summary>
    internal Interop.MultiMessageHeader* Prepare(int count)
    {
        for (var i = 0; i < count; i++)
        {
            // SAFETY: the arrays are pinned for the batch's life; each address is slot i's own part.
            _headers[i] = new Interop.MultiMessageHeader
            {
                Header = new Interop.MessageHeader
                {
                    Name = (byte*)Marshal.UnsafeAddrOfPinnedArrayElement(_names, i * NameSpace),
                    NameLength = NameSpace,
                    Vectors = (Interop.IoVec*)Marshal.UnsafeAddrOfPinnedArrayElement(_vectors, i),
                    VectorCount = 1,
                    Control = (byte*)Marshal.UnsafeAddrOfPinnedArrayElement(_control, i * ControlSpace),
                    ControlLength = ControlSpace,
                },
            };
        }
        Count = 0;
        return (Interop.MultiMessageHeader*)Marshal.UnsafeAddrOfPinnedArrayElement(_headers, 0);
    }

    /// <summary>Records what the kernel filled in for the first <paramref name="count"/> slots.</summary>
    internal void Complete(int count)
    {
        for (var i = 0; i < count; i++)
        {
            _received[i] = (int)_headers[i].Length;
            _segmentSizes[i] = FindSegmentSize(i);
        }
        Count = count;
    }

    /// <summary>Records one message received with <c>recvmsg</c> into slot 0.</summary>
    internal void CompleteOne(int length)
    {
        _headers[0].Length = (uint)length;
        Complete(1);
    }

    /// <summary>The <c>UDP_GRO</c> control message's segment size in slot <paramref name="index"/>, or 0.</summary>
    private int FindSegmentSize(int index)
    {
        var header = _headers[index].Header;
        var control = _control.AsSpan(index * ControlSpace, (int)Math.Min(header.ControlLength, ControlSpace));
        var headerLength = Interop.ControlAlign(sizeof(Interop.ControlMessageHeader));
        while (control.Length >= headerLength)
        {
            var cmsg = MemoryMarshal.Read<Interop.ControlMessageHeader>(control);
            if (cmsg.Length < (nuint)headerLength || cmsg.Length > (nuint)control.Length)
            {
                break;
            }
            if (cmsg.Level == Interop.SOL_UDP && cmsg.Type == Interop.UDP_GRO && cmsg.Length >= (nuint)(headerLength + sizeof(int)))
            {
                return MemoryMarshal.Read<int>(control[headerLength..]);
            }
            var next = Interop.ControlAlign((int)cmsg.Length);
            if (next >= control.Length)
            {
                break;
            }
            control = control[next..];
        }
        return 0;
    }

    private int CheckedIndex(int index)
    {
        if ((uint)index >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"The batch holds {Count} messages.");
        }
        return index;
    }
}

public sealed partial class UdpDatagramSocket
{
    /// <summary>
    /// Waits for at least one message and fills <paramref name="batch"/> with it and with what else already waits
    /// (up to its capacity; one at a time on the <see cref="DatagramReceivePath.Single"/> path).
    /// </summary>
    /// <param name="batch">Where the messages go; its slots are overwritten.</param>
    /// <param name="errno">0, or why nothing was received (an <see cref="NetDev.Errno"/> value).</param>
    /// <returns>How many messages the batch holds now (0 on failure, or when the socket was shut down).</returns>
    /// <exception cref="ObjectDisposedException">The socket was closed.</exception>
    public unsafe int Receive(DatagramReceiveBatch batch, out int errno)
    {
        ArgumentNullException.ThrowIfNull(batch);
        while (true)
        {
            var path = (DatagramReceivePath)_receivePath;
            errno = 0;
            if (path == DatagramReceivePath.Single)
            {
                var headers = batch.Prepare(1);
                // SAFETY: the batch's headers point into its own pinned arrays (DatagramReceiveBatch's invariants).
                var length = Interop.ReceiveMessage(_handle, &headers->Header, Interop.MSG_TRUNC);
                if (length >= 0)
                {
                    batch.CompleteOne((int)length);
                    return 1;
                }
            }
            else
            {
                var headers = batch.Prepare(batch.Capacity);
                // SAFETY: as above; the kernel writes at most Capacity headers and each slot's own buffers.
                var count = Interop.ReceiveMessages(_handle, headers, (uint)batch.Capacity, Interop.MSG_WAITFORONE | Interop.MSG_TRUNC, null);
                if (count >= 0)
                {
                    batch.Complete(count);
                    return count;
                }
            }
            errno = Interop.Errors.LastErrno;
            if (errno == Errno.EINTR)
            {
                continue;
            }
            if (path != DatagramReceivePath.Single && errno == Errno.ENOSYS)
            {
                _receivePath = (int)DatagramReceivePath.Single;
                continue;
            }
            return 0;
        }
    }
}
