using Microsoft.Extensions.Logging;
using NetDev.Hosting;

namespace NetDev;

/// <summary>
/// Brings a device in line with what its host reports others did (<c>ip link set …</c>): each difference
/// between the system's state and the device's goes to the driver (<c>Open</c>/<c>Stop</c>,
/// <c>ChangeMtu</c>, <c>SetMacAddress</c>, <c>SetRxMode</c>, <c>ChangeCarrier</c>); what the driver accepts the
/// device takes, what it rejects is put back in the system and reported (<see cref="NetDevice.ChangeRejected"/>).
/// A new name the device simply takes.
/// </summary>
/// <remarks><b>Invariants.</b> Every judgement runs under the device's control lock and on a state read
/// under it (<see cref="IHostLink.QueryState"/>), so the device's own later changes are never undone by a
/// stale report; nothing is applied while the device is tearing down or being moved.</remarks>
internal sealed class LinkReconciler(NetDevice device)
{
    private readonly NetDevice _device = device;

    /// <summary>The interface was set up or down by anyone.</summary>
    public void OnAdminStateChanged(bool up)
    {
        using (_device.EnterControl())
        {
            if (_device.LinkForEvents is { } link)
            {
                ApplyAdminState(link, up);
            }
        }
    }

    /// <summary>The interface's state changed: the device compares it with its own and applies each difference.</summary>
    public void OnLinkChanged(LinkState state)
    {
        using (_device.EnterControl())
        {
            if (_device.LinkForEvents is not { } link)
            {
                return;
            }
            Apply(link, link.QueryState() ?? state);
        }
    }

    /// <summary>
    /// After a move, whether it succeeded or not: what the host reported meanwhile was ignored, so the
    /// device takes what the system says now (hosts that only push state report it themselves). A failure
    /// to ask is reported, not thrown, since the caller is already ending with the move's own outcome.
    /// Caller holds the control lock.
    /// </summary>
    public void Resynchronise()
    {
        if (_device.LinkForEvents is not { } link)
        {
            return;
        }
        try
        {
            if (link.QueryState() is { } state)
            {
                Apply(link, state);
            }
        }
        catch (NetDevException error)
        {
            _device.ReportError(error);
        }
    }

    private void Apply(IHostLink link, LinkState state)
    {
        ApplyName(state.Name);
        _device.ConfirmTxQueueLength(state.TxQueueLength);
        ApplyMtu(link, state.Mtu);
        ApplyMacAddress(link, state.MacAddress);
        ApplyFlags(state.Flags);
        ApplyCarrier(link, state.Carrier);
        ApplyAdminState(link, state.AdminUp);
    }

    /// <summary>A rename is the system's alone (the kernel has no ndo for it): the device takes the new name, so logs, lists and the endpoint follow.</summary>
    private void ApplyName(string? name)
    {
        if (name is null || name == _device.Name)
        {
            return;
        }
        _device.Logger.LogInformation("{Device} was renamed to {Name}", _device.Name, name);
        _device.ConfirmName(name);
    }

    private void ApplyAdminState(IHostLink link, bool up)
    {
        if (up == _device.IsUp)
        {
            return;
        }
        if (!up)
        {
            _device.Logger.LogInformation("{Device} was set down; stopping the driver", _device.Name);
            _device.StopCore(link);
            return;
        }
        _device.Logger.LogInformation("{Device} was set up; opening the driver", _device.Name);
        try
        {
            _device.OpenCore(link);
        }
        catch (Exception error)
        {
            // Nobody called us, so the failure is reported and the link put back down.
            _device.ReportError(error);
            try
            {
                link.SetAdminUp(false);
            }
            catch (NetDevException downError)
            {
                _device.ReportError(downError);
            }
        }
    }

    private void ApplyMtu(IHostLink link, int mtu)
    {
        if (mtu == _device.Mtu)
        {
            return;
        }
        var reason = DriverVerdict(_device.MtuRangeError(mtu), mtu, _device.Operations.ChangeMtu);
        if (reason is null)
        {
            _device.Logger.LogInformation("{Device}: MTU changed from {Old} to {New}", _device.Name, _device.Mtu, mtu);
            _device.SetMtuAndResizePools(mtu);
            return;
        }
        Reject(link, "mtu", mtu.ToString(), _device.Mtu.ToString(), reason, new LinkConfiguration { Mtu = _device.Mtu });
    }

    private void ApplyMacAddress(IHostLink link, MacAddress address)
    {
        if (address == _device.MacAddress)
        {
            return;
        }
        var reason = DriverVerdict(address.IsValidDeviceAddress ? null : $"{address} is not a valid unicast, non-zero address",
            address, _device.Operations.SetMacAddress);
        if (reason is null)
        {
            _device.Logger.LogInformation("{Device}: address changed from {Old} to {New}", _device.Name, _device.MacAddress, address);
            _device.ConfirmMacAddress(address);
            return;
        }
        Reject(link, "address", address.ToString(), _device.MacAddress.ToString(), reason, new LinkConfiguration { MacAddress = _device.MacAddress });
    }

    private void ApplyFlags(DeviceFlags flags)
    {
        flags &= NetDevice.ChangeableFlags;
        var changed = (flags ^ _device.Flags) & NetDevice.ChangeableFlags;
        if (changed == DeviceFlags.None)
        {
            return;
        }
        _device.ConfirmFlags(changed, flags);
        if ((changed & NetDevice.RxModeFlags) == 0)
        {
            return;
        }
        _device.Logger.LogInformation("{Device}: receive mode now {Flags}", _device.Name, _device.Flags & NetDevice.RxModeFlags);
        try
        {
            _device.Operations.SetRxMode();
        }
        catch (Exception error)
        {
            // ndo_set_rx_mode cannot refuse; a failure is only worth knowing.
            _device.ReportError(error);
        }
    }

    private void ApplyCarrier(IHostLink link, bool carrier)
    {
        if (carrier == _device.Carrier)
        {
            return;
        }
        if (DriverVerdict(null, carrier, _device.Operations.ChangeCarrier) is { } reason)
        {
            Reject(link, "carrier", carrier ? "on" : "off", _device.Carrier ? "on" : "off", reason, new LinkConfiguration { Carrier = _device.Carrier });
            return;
        }
        _device.Logger.LogInformation("{Device}: carrier {State}", _device.Name, carrier ? "on" : "off");
        _device.ConfirmCarrier(carrier);
    }

    /// <summary>
    /// Why a change to <paramref name="value"/> is refused: <paramref name="reason"/> when the framework's own
    /// check failed, else the message of the driver's <paramref name="operation"/> if it threw; null when accepted.
    /// </summary>
    private static string? DriverVerdict<T>(string? reason, T value, Action<T> operation)
    {
        if (reason is not null)
        {
            return reason;
        }
        try
        {
            operation(value);
            return null;
        }
        catch (Exception error)
        {
            return error.Message;
        }
    }

    private void Reject(IHostLink link, string setting, string requested, string kept, string reason, LinkConfiguration restore)
    {
        _device.Logger.LogWarning("{Device}: rejected {Setting} {Requested}: {Reason}; putting back {Kept}", _device.Name, setting, requested, reason, kept);
        try
        {
            link.Configure(restore);
        }
        catch (Exception error)
        {
            _device.ReportError(error);
        }
        _device.RaiseChangeRejected(new ChangeRejectedEventArgs(setting, requested, kept, reason));
    }
}
