using NetDev.Control;

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
    /// each serves its control endpoint as <paramref name="control"/> says from its registration on.
    /// </summary>
    /// <remarks>On any failure every group registered so far is torn down before the error is reported:
    /// one error path undoes exactly what was done.</remarks>
    public static int Run(IReadOnlyList<DeviceGroup> groups, ControlServerOptions control, TextWriter output, TextWriter error)
    {
        using var termination = new TerminationSignal(error);
        using var endpoints = new DeviceEndpoints(control);
        var registered = new List<NetDevice>();
        try
        {
            foreach (var group in groups)
            {
                if (termination.IsReceived)
                {
                    break;
                }
                group.Register();
                registered.AddRange(group.Devices);
                foreach (var device in group.Devices)
                {
                    // A device that can no longer work as asked ends the run, which then fails.
                    device.Degraded += (_, e) => termination.Stop($"{device.Name} is degraded: {e.Exception.Message}");
                }
                endpoints.Serve(group.Devices);
                group.BringUp();
            }
            if (!termination.IsReceived)
            {
                // "ready" means every device is up, so a reader may act on the first line it sees.
                foreach (var device in registered)
                {
                    output.WriteLine($"ready: {device.Name}");
                }
                output.Flush();
                termination.Wait();
            }
        }
        catch (NetDevException failure)
        {
            // The message is one sentence with the errno, and the CAP_NET_ADMIN hint when privilege is missing.
            TearDown(groups, endpoints, error);
            error.WriteLine($"netdev: {failure.Message}");
            return ExitCodes.Failure;
        }
        catch
        {
            TearDown(groups, endpoints, error);
            throw;
        }

        if (termination.Reason is { } reason)
        {
            error.WriteLine($"netdev: {reason}; removing the devices");
            error.Flush();
        }
        var clean = TearDown(groups, endpoints, error);
        foreach (var device in registered)
        {
            output.WriteLine($"{device.Name} {device.GetStats()}");
        }
        output.Flush();
        return clean && termination.Reason is null ? ExitCodes.Success : ExitCodes.Failure;
    }

    /// <summary>
    /// Removes the control endpoints, then disposes every group, last first, going on past a failure so
    /// that no interface is left behind because another one could not be removed; reports each failure and
    /// returns whether there was none.
    /// </summary>
    private static bool TearDown(IReadOnlyList<DeviceGroup> groups, DeviceEndpoints endpoints, TextWriter error)
    {
        endpoints.Dispose();
        var clean = true;
        for (var i = groups.Count - 1; i >= 0; i--)
        {
            try
            {
                groups[i].Remove();
            }
            catch (Exception failure)
            {
                error.WriteLine($"netdev: removing {string.Join(" and ", groups[i].Devices.Select(device => device.Name))} failed: {failure.Message}");
                clean = false;
            }
        }
        error.Flush();
        return clean;
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
}
