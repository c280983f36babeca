namespace NetDev.Cli;

/// <summary>
/// The life of <c>netdev run</c>, whatever the driver: register and bring up every device, say
/// <c>ready: IFNAME</c>, wait for SIGINT or SIGTERM, tear everything down, print each device's counters.
/// </summary>
internal static class DeviceRunner
{
    /// <summary>
    /// Runs <paramref name="devices"/> (configured, not yet registered; this method owns and disposes them)
    /// and returns the exit code.
    /// </summary>
    /// <remarks>On any failure every device registered so far is torn down before the error is reported:
    /// one error path undoes exactly what was done.</remarks>
    public static int Run<TDriver>(IReadOnlyList<Registration<TDriver>> devices, TextWriter output, TextWriter error)
        where TDriver : class, IDeviceOperations<TDriver>
    {
        using var termination = new TerminationSignal();
        var registered = new List<NetDevice>(devices.Count);
        try
        {
            foreach (var registration in devices)
            {
                if (termination.IsReceived)
                {
                    break;
                }
                registration.Register();
                registered.Add(registration.Device);
                registration.Device.BringUp();
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
            TearDown(devices, error);
            error.WriteLine($"netdev: {failure.Message}");
            return ExitCodes.Failure;
        }
        catch
        {
            TearDown(devices, error);
            throw;
        }

        var clean = TearDown(devices, error);
        foreach (var device in registered)
        {
            output.WriteLine($"{device.Name} {device.GetStats()}");
        }
        output.Flush();
        return clean ? ExitCodes.Success : ExitCodes.Failure;
    }

    /// <summary>
    /// Disposes every device, last first, going on past a failure so that no interface is left behind
    /// because another one could not be removed; reports each failure and returns whether there was none.
    /// </summary>
    private static bool TearDown<TDriver>(IReadOnlyList<Registration<TDriver>> devices, TextWriter error)
        where TDriver : class, IDeviceOperations<TDriver>
    {
        var clean = true;
        for (var i = devices.Count - 1; i >= 0; i--)
        {
            try
            {
                devices[i].Dispose();
            }
            catch (Exception failure)
            {
                error.WriteLine($"netdev: removing {devices[i].Device.Name} failed: {failure.Message}");
                clean = false;
            }
        }
        error.Flush();
        return clean;
    }
}
