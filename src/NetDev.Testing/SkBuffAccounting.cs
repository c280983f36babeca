namespace NetDev.Testing;

/// <summary>Thrown by NetDev.Testing's checks when a device or driver broke a rule; the message says what was found.</summary>
public sealed class NetDevAssertionException : Exception
{
    /// <summary>Creates the exception with <paramref name="message"/>.</summary>
    public NetDevAssertionException(string message) : base(message)
    {
    }
}

/// <summary>What one of a device's SkBuff pools has handed out and got back.</summary>
/// <param name="Pool">The pool's name, such as <c>tx queue 0</c>.</param>
/// <param name="Outstanding">Buffers rented and not yet released.</param>
/// <param name="Consumed">Frames released as delivered (<see cref="SkBuff.Consume"/>).</param>
/// <param name="Dropped">Frames released as dropped (<see cref="SkBuff.Drop"/>), for any reason.</param>
/// <param name="DropsByReason">The drops per reason; reasons with none are left out.</param>
public sealed record PoolAccount(string Pool, int Outstanding, long Consumed, long Dropped, IReadOnlyDictionary<DropReason, long> DropsByReason)
{
    /// <summary>Frames released, as delivered or dropped.</summary>
    public long Released => Consumed + Dropped;
}

/// <summary>
/// Checks the SkBuff rule on a device: every frame released exactly once. A second release throws
/// <see cref="SkBuffMisuseException"/> where it happens (in <c>StartXmit</c> the framework reports it as a
/// device error, see <see cref="TestLink.Errors"/>); a missing release shows as a buffer still out once
/// nothing should hold one, which these checks find.
/// </summary>
public static class SkBuffAccounting
{
    /// <summary>The accounts of every pool of <paramref name="device"/>: each queue's transmit pool, then its receive pool.</summary>
    public static IReadOnlyList<PoolAccount> Of(NetDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        var accounts = new List<PoolAccount>();
        foreach (var queue in device.Queues)
        {
            accounts.Add(Account(queue.TxPool));
            accounts.Add(Account(queue.RxPool));
        }
        return accounts;
    }

    /// <summary>The account of one pool.</summary>
    public static PoolAccount Account(SkBuffPool pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        var drops = new Dictionary<DropReason, long>();
        foreach (var reason in Enum.GetValues<DropReason>())
        {
            if (pool.DropCount(reason) is var count and > 0)
            {
                drops[reason] = count;
            }
        }
        return new PoolAccount(pool.Name, pool.Outstanding, pool.ConsumedCount, pool.TotalDrops, drops);
    }

    /// <summary>
    /// The leak reports of <paramref name="device"/>'s pools that are not clean: buffers rented and never
    /// released. Set <see cref="SkBuffPool.CaptureAllocationStacks"/> to learn where they were rented.
    /// </summary>
    public static IReadOnlyList<SkBuffLeakReport> FindLeaks(NetDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        var leaks = new List<SkBuffLeakReport>();
        foreach (var queue in device.Queues)
        {
            foreach (var pool in new[] { queue.TxPool, queue.RxPool })
            {
                var report = pool.CheckLeaks();
                if (!report.IsClean)
                {
                    leaks.Add(report);
                }
            }
        }
        return leaks;
    }

    /// <summary>
    /// Checks that no buffer of <paramref name="device"/> is out: none held by the driver, none waiting as
    /// a refused frame. Call it when nothing should hold a frame: after the registration was disposed, or
    /// at a quiet moment of a driver that never keeps frames.
    /// </summary>
    /// <exception cref="NetDevAssertionException">Buffers are out; the message lists the pools.</exception>
    public static void AssertNoLeaks(NetDevice device)
    {
        var leaks = FindLeaks(device);
        if (leaks.Count > 0)
        {
            throw new NetDevAssertionException($"{device.Name} leaked SkBuffs:{Environment.NewLine}{string.Join(Environment.NewLine, leaks)}");
        }
    }

    /// <summary>
    /// Checks a disposed registration: its own leak report (<see cref="Registration{TDriver}.Leaks"/>) is
    /// empty and no receive buffer is out either.
    /// </summary>
    /// <exception cref="InvalidOperationException">The registration is still registered.</exception>
    /// <exception cref="NetDevAssertionException">Buffers were leaked.</exception>
    public static void AssertNoLeaks<TDriver>(Registration<TDriver> registration) where TDriver : class, IDeviceOperations<TDriver>
    {
        ArgumentNullException.ThrowIfNull(registration);
        if (registration.IsRegistered)
        {
            throw new InvalidOperationException($"{registration.Device.Name} is still registered; dispose the registration before checking for leaks.");
        }
        var problems = registration.Leaks.Select(report => report.ToString()).Concat(FindLeaks(registration.Device).Select(report => report.ToString())).Distinct().ToList();
        if (problems.Count > 0)
        {
            throw new NetDevAssertionException($"{registration.Device.Name} leaked SkBuffs:{Environment.NewLine}{string.Join(Environment.NewLine, problems)}");
        }
    }
}
