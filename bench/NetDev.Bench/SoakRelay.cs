using System.Net;
using System.Net.Sockets;
using NetDev.Linux;

namespace NetDev.Bench;

/// <summary>
/// The soak's faulty wire between two tunnel instances: a UDP relay that forwards each datagram from one
/// end to the other, dropping some and holding some back to send after the next one (reordering), at
/// rates the soak raises during a fault burst. It counts what it did, so that every datagram a tunnel
/// sent is accounted for: forwarded, or dropped here on purpose.
/// </summary>
/// <remarks>
/// <para>Each end talks to a socket of its own (<see cref="FacingA"/>, <see cref="FacingB"/>), which is the
/// "peer" that end was given; a datagram arriving on one is sent on from the other, so each tunnel sees
/// datagrams from the address it expects. One thread per direction.</para>
/// <para><b>Invariants.</b> A direction's held datagram and its counters are touched only by that
/// direction's thread until <see cref="Dispose"/> has joined it. Every datagram received is, once the
/// threads end, exactly one of: forwarded, dropped on purpose, failed to send.</para>
/// </remarks>
internal sealed class SoakRelay : IDisposable
{
    private static readonly TimeSpan FlushAfter = TimeSpan.FromMilliseconds(50);

    private readonly Socket _facingA;
    private readonly Socket _facingB;
    private readonly Direction _aToB;
    private readonly Direction _bToA;
    private readonly Thread[] _threads;
    private volatile bool _stopping;
    // Per-million rates, read by both threads; written by the soak's main thread.
    private volatile int _dropPerMillion;
    private volatile int _reorderPerMillion;

    /// <summary>Binds the relay's two sockets on 127.0.0.1 in <paramref name="networkNamespace"/>.</summary>
    public SoakRelay(string networkNamespace, int portFacingA, int portFacingB, IPEndPoint endA, IPEndPoint endB)
    {
        _facingA = NetworkNamespace.Run(networkNamespace, () => Bind(portFacingA));
        _facingB = NetworkNamespace.Run(networkNamespace, () => Bind(portFacingB));
        _aToB = new Direction(_facingA, _facingB, endB);
        _bToA = new Direction(_facingB, _facingA, endA);
        _threads = [new Thread(() => Forward(_aToB)) { Name = "soak relay a->b", IsBackground = true },
            new Thread(() => Forward(_bToA)) { Name = "soak relay b->a", IsBackground = true }];
        foreach (var thread in _threads)
        {
            thread.Start();
        }
    }

    /// <summary>Where end A sends (its peer address).</summary>
    public IPEndPoint FacingA => (IPEndPoint)_facingA.LocalEndPoint!;

    /// <summary>Where end B sends (its peer address).</summary>
    public IPEndPoint FacingB => (IPEndPoint)_facingB.LocalEndPoint!;

    /// <summary>Sets the fault rates: the share of datagrams dropped, and of those held back behind the next one.</summary>
    public void SetFaults(double drop, double reorder)
    {
        _dropPerMillion = (int)(drop * 1_000_000);
        _reorderPerMillion = (int)(reorder * 1_000_000);
    }

    /// <summary>The relay's counters over both directions; exact once <see cref="Dispose"/> returned.</summary>
    public RelayCounters Counters => _aToB.Counters + _bToA.Counters;

    /// <summary>Stops forwarding: each direction sends what it held back, then its sockets close.</summary>
    public void Dispose()
    {
        _stopping = true;
        foreach (var thread in _threads)
        {
            // Each thread wakes within its receive timeout, flushes and ends.
            thread.Join();
        }
        _facingA.Dispose();
        _facingB.Dispose();
    }

    private static Socket Bind(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp)
        {
            ReceiveBufferSize = 4 << 20,
            SendBufferSize = 4 << 20,
            ReceiveTimeout = (int)FlushAfter.TotalMilliseconds,
        };
        socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
        return socket;
    }

    private void Forward(Direction direction)
    {
        var buffer = new byte[65536];
        var held = new byte[65536];
        var heldLength = -1;
        var random = new Random();
        while (!_stopping)
        {
            int length;
            try
            {
                length = direction.From.Receive(buffer);
            }
            catch (SocketException error) when (error.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
            {
                // Quiet for a while: what was held back goes now, so no datagram waits for a successor forever.
                Release(direction, held, ref heldLength);
                continue;
            }
            direction.Counters.Received++;
            var roll = random.Next(1_000_000);
            if (roll < _dropPerMillion)
            {
                direction.Counters.Dropped++;
                continue;
            }
            if (heldLength < 0 && roll < _dropPerMillion + _reorderPerMillion)
            {
                buffer.AsSpan(0, length).CopyTo(held);
                heldLength = length;
                direction.Counters.Reordered++;
                continue;
            }
            Send(direction, buffer.AsSpan(0, length));
            Release(direction, held, ref heldLength);
        }
        Release(direction, held, ref heldLength);
    }

    private static void Release(Direction direction, byte[] held, ref int heldLength)
    {
        if (heldLength >= 0)
        {
            Send(direction, held.AsSpan(0, heldLength));
            heldLength = -1;
        }
    }

    private static void Send(Direction direction, ReadOnlySpan<byte> datagram)
    {
        try
        {
            direction.To.SendTo(datagram, SocketFlags.None, direction.Destination);
            direction.Counters.Forwarded++;
        }
        catch (SocketException)
        {
            direction.Counters.SendFailed++;
        }
    }

    private sealed class Direction(Socket from, Socket to, IPEndPoint destination)
    {
        public Socket From { get; } = from;

        public Socket To { get; } = to;

        public IPEndPoint Destination { get; } = destination;

        public RelayCounters Counters;
    }
}

/// <summary>What the relay did with the datagrams it received.</summary>
internal struct RelayCounters
{
    public long Received;
    public long Forwarded;
    public long Dropped;
    public long Reordered;
    public long SendFailed;

    public static RelayCounters operator +(RelayCounters a, RelayCounters b) => new()
    {
        Received = a.Received + b.Received,
        Forwarded = a.Forwarded + b.Forwarded,
        Dropped = a.Dropped + b.Dropped,
        Reordered = a.Reordered + b.Reordered,
        SendFailed = a.SendFailed + b.SendFailed,
    };
}
