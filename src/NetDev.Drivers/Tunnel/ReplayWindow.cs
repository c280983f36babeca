namespace NetDev.Drivers.Tunnel;

/// <summary>
/// A sliding anti-replay window over 64-bit packet numbers, as IPsec's RFC 6479 and WireGuard keep it: a
/// packet number is taken once, numbers up to <see cref="Size"/> below the highest seen are taken in any
/// order, and older ones are refused.
/// </summary>
/// <remarks>
/// <para>The window is a ring of 64-bit blocks; moving forward clears only the blocks it passes, so an
/// update costs a few word operations whatever the jump, and nothing is allocated after construction.</para>
/// <para>Check with <see cref="IsFresh"/> before the (costly) authentication and record with
/// <see cref="Accept"/> only after it succeeded: a forged datagram must not move the window.</para>
/// <para><b>Invariants.</b> Once <c>_any</c> is set, <c>_highest</c> is the highest number accepted, and
/// bit <c>n % BitCount</c> is set for exactly the accepted numbers <c>n</c> in
/// <c>(_highest − Size, _highest]</c>; blocks outside the window are zero or hold stale bits that
/// <see cref="IsFresh"/> never reads (it refuses those numbers first). Single-threaded: the receive thread
/// owns it.</para>
/// </remarks>
public sealed class ReplayWindow
{
    private const int BlockBits = 64;
    private const int BlockCount = 64;
    private const int BitCount = BlockBits * BlockCount;

    /// <summary>
    /// How far below the highest number a packet may arrive and still be taken: 4032, the ring less one block
    /// (the block the highest number is in is partly ahead of it).
    /// </summary>
    public const int Size = BitCount - BlockBits;

    private readonly ulong[] _blocks = new ulong[BlockCount];
    private ulong _highest;
    private bool _any;

    /// <summary>The highest number accepted, or null before the first.</summary>
    public ulong? Highest => _any ? _highest : null;

    /// <summary>Whether <paramref name="number"/> would be taken: above the highest, or inside the window and not seen yet.</summary>
    public bool IsFresh(ulong number)
    {
        if (!_any || number > _highest)
        {
            return true;
        }
        if (_highest - number >= Size)
        {
            return false;
        }
        return (_blocks[BlockOf(number)] & BitOf(number)) == 0;
    }

    /// <summary>Records <paramref name="number"/> as taken; returns false (and changes nothing) when it was not fresh.</summary>
    public bool Accept(ulong number)
    {
        if (!IsFresh(number))
        {
            return false;
        }
        if (!_any || number > _highest)
        {
            Advance(number);
        }
        _blocks[BlockOf(number)] |= BitOf(number);
        return true;
    }

    private void Advance(ulong number)
    {
        var newBlock = number / BlockBits;
        if (!_any)
        {
            Array.Clear(_blocks);
        }
        else
        {
            var oldBlock = _highest / BlockBits;
            // Blocks between the old highest's and the new one's now cover numbers never seen: clear them
            // (all of them at most once, however far the window jumps).
            var toClear = Math.Min(newBlock - oldBlock, BlockCount);
            for (ulong i = 1; i <= toClear; i++)
            {
                _blocks[(int)((oldBlock + i) % BlockCount)] = 0;
            }
        }
        _highest = number;
        _any = true;
    }

    private static int BlockOf(ulong number) => (int)(number / BlockBits % BlockCount);

    private static ulong BitOf(ulong number) => 1UL << (int)(number % BlockBits);
}
