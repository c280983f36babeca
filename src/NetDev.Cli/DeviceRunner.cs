using NetDev.Control;
using NetDev.Hosting;

namespace NetDev.Cli;

/// <summary>
/// The life of <c>netdev run</c>, whatever the driver: register and bring up every device, say
/// <c>ready: IFNAME</c>, wait for SIGINT or SIGTERM, tear everything down, print each device's counters.
/// </summary>
internal static class DeviceRunner
{
    /// <summary>
    /// Runs <paramref name="groups"/> (configured, not yet registered; this method owns and disposes them)
    /// and returns the exit code. Devices are announced and reported in the order the groups list them;
    /// each serves its control endpoint as <paramref name="control"/> says from its registration on. Under
    /// systemd (<c>NOTIFY_SOCKET</c> set, <c>Type=notify</c>) it says <c>READY=1</c> when every device is up,
    /// as it prints the ready lines, and <c>STOPPING=1</c> when the teardown begins.
    /// </summary>
    /// <remarks>
    /// <para>On any failure every group registered so far is torn down before the error is reported:
    /// one error path undoes exactly what was done.</para>
    /// <para>A device removed from outside — <c>ip link del</c>, or <c>ip netns del</c> of its namespace — ends
    /// the run as a signal would, but with one sentence saying which device went and why, and exit code
    /// <see cref="ExitCodes.DeviceLost"/>: the devices left are removed and every device's counters printed
    /// (the lost one's as the framework counted them). Serving on with a device missing would leave a pair
    /// with one end, or a run that no longer matches its command line. A device degraded otherwise (a thread
    /// of it died: <see cref="NetDevice.Degraded"/>) ends the run the same way, with exit code
    /// <see cref="ExitCodes.Failure"/>.</para>
    /// </remarks>
    public static int Run(IReadOnlyList<DeviceGroup> groups, ControlServerOptions control, TextWriter output, TextWriter error)
    {
        using var termination = new TerminationSignal(error);
        using var endpoints = new DeviceEndpoints(control);
        using var loss = new DeviceLoss();
        var notifier = SystemdNotifier.FromEnvironment();
        var registered = new List<NetDevice>();
        try
        {
            foreach (var group in groups)
            {
                if (termination.IsReceived || loss.Lost is not null || loss.Degraded is not null)
                {
                    break;
                }
                loss.Watch(group.Devices);
                group.Register();
                registered.AddRange(group.Devices);
                endpoints.Serve(group.Devices);
                group.BringUp();
            }
            if (!termination.IsReceived && loss.Lost is null && loss.Degraded is null)
            {
                // "ready" means every device is up, so a reader may act on the first line it sees.
                foreach (var device in registered)
                {
                    output.WriteLine($"ready: {device.Name}");
                }
                output.Flush();
                notifier.Notify("READY=1");
                WaitHandle.WaitAny([termination.WaitHandle, loss.WaitHandle]);
                notifier.Notify("STOPPING=1");
            }
        }
        catch (NetDevException failure) when (loss.Lost is null)
        {
            // The message is one sentence with the errno, and the CAP_NET_ADMIN hint when privilege is missing.
            TearDown(groups, endpoints, error);
            error.WriteLine($"netdev: {failure.Message}");
            return ExitCodes.Failure;
        }
        catch (Exception failure) when (loss.Lost is null || failure is not NetDevException)
        {
            TearDown(groups, endpoints, error);
            throw;
        }
        catch (NetDevException)
        {
            // A step failed because a device had just been removed from outside: that is the news, said below.
        }

        if (loss.Lost is { } lost)
        {
            Say(error, lost.Device, registered, lost.Error.Description);
        }
        else if (loss.Degraded is { } degraded)
        {
            Say(error, degraded.Device, registered, $"degraded: {degraded.Reason.Message}");
        }
        var clean = TearDown(groups, endpoints, error, registered, output);
        return !clean || loss.Degraded is not null && loss.Lost is null ? ExitCodes.Failure
            : loss.Lost is not null ? ExitCodes.DeviceLost
            : ExitCodes.Success;
    }

    /// <summary>The one sentence that ends a run early: which device, what happened, what is done about it.</summary>
    private static void Say(TextWriter error, NetDevice device, IReadOnlyList<NetDevice> registered, string what)
    {
        var others = registered.Where(other => other != device).Select(other => other.Name).ToList();
        error.WriteLine($"netdev: {device.Name}: {what}; "
            + (others.Count == 0 ? "stopping" : $"removing {string.Join(" and ", others)} and stopping"));
        error.Flush();
    }

    /// <summary>Whether <paramref name="error"/>, reported by a device, says that its interface is gone (ENODEV): deleted, or its namespace deleted.</summary>
    public static bool IsDeviceLost(Exception? error) => error is NetDevException { Errno: Errno.ENODEV };

    /// <summary>
    /// Removes the control endpoints, brings every device down, prints the counters of
    /// <paramref name="report"/> (while the drivers can still be asked for their own), then disposes every
    /// group, last first, going on past a failure so that no interface is left behind because another one
    /// could not be removed; reports each failure and returns whether there was none.
    /// </summary>
    private static bool TearDown(IReadOnlyList<DeviceGroup> groups, DeviceEndpoints endpoints, TextWriter error,
        IReadOnlyList<NetDevice>? report = null, TextWriter? output = null)
    {
        endpoints.Dispose();
        var clean = true;
        if (report is not null)
        {
            for (var i = groups.Count - 1; i >= 0; i--)
            {
                clean &= Try(groups[i], groups[i].BringDown, "bringing down", error);
            }
            // Down, the counters no longer move; the drivers' own are still there to be read.
            foreach (var device in report)
            {
                output!.WriteLine($"{device.Name} {device.GetStats()}");
            }
            output!.Flush();
        }
        for (var i = groups.Count - 1; i >= 0; i--)
        {
            clean &= Try(groups[i], groups[i].Remove, "removing", error);
        }
        error.Flush();
        return clean;
    }

    private static bool Try(DeviceGroup group, Action step, string what, TextWriter error)
    {
        try
        {
            step();
            return true;
        }
        catch (Exception failure)
        {
            error.WriteLine($"netdev: {what} {string.Join(" and ", group.Devices.Select(device => device.Name))} failed: {failure.Message}");
            return false;
        }
    }

    /// <summary>
    /// The first of the watched devices that was removed from outside, and why, or else the first that
    /// degraded for another reason; its wait handle is set then. Devices report on their own threads, so the
    /// first report wins.
    /// </summary>
    private sealed class DeviceLoss : IDisposable
    {
        private readonly ManualResetEvent _lost = new(false);
        private readonly List<(NetDevice Device, EventHandler<DeviceErrorEventArgs> Handler, EventHandler<DeviceErrorEventArgs> Degraded)> _watched = [];
        private (NetDevice Device, NetDevException Error)? _first;
        private (NetDevice Device, Exception Reason)? _degraded;
        private readonly object _lock = new();

        public (NetDevice Device, Exception Reason)? Degraded
        {
            get
            {
                lock (_lock)
                {
                    return _degraded;
                }
            }
        }

        public (NetDevice Device, NetDevException Error)? Lost
        {
            get
            {
                lock (_lock)
                {
                    return _first;
                }
            }
        }

        public WaitHandle WaitHandle => _lost;

        public void Watch(IEnumerable<NetDevice> devices)
        {
            foreach (var device in devices)
            {
                EventHandler<DeviceErrorEventArgs> handler = (_, e) => OnError(device, e.Exception);
                EventHandler<DeviceErrorEventArgs> degraded = (_, e) => OnDegraded(device, e.Exception);
                device.Error += handler;
                device.Degraded += degraded;
                _watched.Add((device, handler, degraded));
            }
        }

        public void Dispose()
        {
            foreach (var (device, handler, degraded) in _watched)
            {
                device.Error -= handler;
                device.Degraded -= degraded;
            }
            _lost.Dispose();
        }

        private void OnDegraded(NetDevice device, Exception reason)
        {
            if (IsDeviceLost(reason))
            {
                return; // OnError has it
            }
            lock (_lock)
            {
                _degraded ??= (device, reason);
            }
            _lost.Set();
        }

        private void OnError(NetDevice device, Exception error)
        {
            if (!IsDeviceLost(error))
            {
                return;
            }
            lock (_lock)
            {
                if (_first is not null)
                {
                    return;
                }
                _first = (device, (NetDevException)error);
            }
            _lost.Set();
        }
    }
}

/// <summary>
/// Devices that are registered, brought up and removed together: one device of most drivers, both ends
/// of a pair (whose ends must exist before either is brought up, and both stop before either goes).
/// </summary>
/// <param name="Devices">The group's devices, in the order they are announced.</param>
/// <param name="Register">Makes every interface of the group exist, or none.</param>
/// <param name="BringUp">Brings every device of the group up.</param>
/// <param name="Remove">Removes the group's interfaces; safe to call after a failed or no registration.</param>
internal sealed record DeviceGroup(IReadOnlyList<NetDevice> Devices, Action Register, Action BringUp, Action Remove)
{
    /// <summary>One device on its own.</summary>
    public static DeviceGroup Of<TDriver>(Registration<TDriver> registration) where TDriver : class, IDeviceOperations<TDriver> =>
        new([registration.Device], registration.Register, registration.Device.BringUp, registration.Dispose);

    /// <summary>Both ends of a pair, first end first.</summary>
    public static DeviceGroup Of(NetDev.Drivers.Pair.PairRegistration pair) =>
        new([pair.First.Device, pair.Second.Device], pair.Register, pair.BringUp, pair.Dispose);

    /// <summary>Brings down every device of the group that is registered and up (the driver's <c>Stop</c>), so no frame moves any more.</summary>
    public void BringDown()
    {
        foreach (var device in Devices)
        {
            if (device.IsRegistered && device.IsUp)
            {
                device.BringDown();
            }
        }
    }
}
