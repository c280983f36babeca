namespace NetDev;

/// <summary>
/// Lets the driver's read-only operations (<c>GetStats64</c>, the ethtool ones), which anyone may ask for
/// at any time — the control endpoint's threads, a runner printing the final counters — reach the driver
/// only while it is initialised: once <see cref="Close"/> has run, before the driver's <c>Uninit</c>, no
/// query reaches it again, and none is still inside it.
/// </summary>
/// <remarks>
/// <para>Queries are off the packet path, so an interlocked count per query is cheap; <see cref="Close"/>
/// waits only for the queries already inside the driver, which are as short as the driver makes them.</para>
/// <para><b>Invariants.</b> <c>_inside</c> is the number of queries inside the driver while it is zero or
/// more; once it is <see cref="int.MinValue"/> the gate is closed for good and no query enters.</para>
/// </remarks>
internal sealed class DriverQueryGate
{
    private const int Closed = int.MinValue;

    private int _inside;

    /// <summary>Whether a query may call the driver now; if true, the caller must call <see cref="Leave"/> when it is done.</summary>
    internal bool TryEnter()
    {
        var seen = Volatile.Read(ref _inside);
        while (seen >= 0)
        {
            var before = Interlocked.CompareExchange(ref _inside, seen + 1, seen);
            if (before == seen)
            {
                return true;
            }
            seen = before;
        }
        return false;
    }

    /// <summary>Ends a query that <see cref="TryEnter"/> let in.</summary>
    internal void Leave() => Interlocked.Decrement(ref _inside);

    /// <summary>Lets no further query in and waits until none is inside; safe to call again.</summary>
    internal void Close()
    {
        var spin = new SpinWait();
        while (Volatile.Read(ref _inside) != Closed && Interlocked.CompareExchange(ref _inside, Closed, 0) != 0)
        {
            spin.SpinOnce();
        }
    }
}
