namespace NetDev.Testing.Tests;

/// <summary>
/// A driver whose every operation the test scripts. By default StartXmit keeps a copy of the frame,
/// counts it and consumes it, like dummy; every other operation does nothing.
/// </summary>
public sealed class ScriptedDriver : IDeviceOperations<ScriptedDriver>
{
    private readonly List<(int Queue, byte[] Data, ushort Protocol, string? Thread)> _frames = [];

    public Action<NetDevice<ScriptedDriver>>? OnOpen { get; set; }

    public Action<NetDevice<ScriptedDriver>>? OnStop { get; set; }

    public Action<NetDevice<ScriptedDriver>, int>? OnChangeMtu { get; set; }

    public Action<NetDevice<ScriptedDriver>, MacAddress>? OnSetMacAddress { get; set; }

    public Action<NetDevice<ScriptedDriver>, bool>? OnChangeCarrier { get; set; }

    public Action<NetDevice<ScriptedDriver>, int>? OnTxTimeout { get; set; }

    /// <summary>What StartXmit does after the frame was copied; null means count and consume.</summary>
    public Func<NetDevice<ScriptedDriver>, SkBuff, TxResult>? OnStartXmit { get; set; }

    public List<DeviceFlags> RxModes { get; } = [];

    /// <summary>The frames StartXmit was given, copied, in order (a frame retried after Busy appears each time).</summary>
    public IReadOnlyList<(int Queue, byte[] Data, ushort Protocol, string? Thread)> Frames
    {
        get
        {
            lock (_frames)
            {
                return [.. _frames];
            }
        }
    }

    public void Init(NetDevice<ScriptedDriver> device)
    {
    }

    public void Uninit(NetDevice<ScriptedDriver> device)
    {
    }

    public void Open(NetDevice<ScriptedDriver> device) => OnOpen?.Invoke(device);

    public void Stop(NetDevice<ScriptedDriver> device) => OnStop?.Invoke(device);

    public void ChangeMtu(NetDevice<ScriptedDriver> device, int newMtu) => OnChangeMtu?.Invoke(device, newMtu);

    public void SetMacAddress(NetDevice<ScriptedDriver> device, MacAddress address) => OnSetMacAddress?.Invoke(device, address);

    public void SetRxMode(NetDevice<ScriptedDriver> device) => RxModes.Add(device.Flags & (DeviceFlags.Promisc | DeviceFlags.AllMulti));

    public void ChangeCarrier(NetDevice<ScriptedDriver> device, bool carrier) => OnChangeCarrier?.Invoke(device, carrier);

    public void TxTimeout(NetDevice<ScriptedDriver> device, int queue) => OnTxTimeout?.Invoke(device, queue);

    public TxResult StartXmit(NetDevice<ScriptedDriver> device, SkBuff skb)
    {
        lock (_frames)
        {
            _frames.Add((skb.QueueIndex, skb.Data.ToArray(), skb.Protocol, Thread.CurrentThread.Name));
        }
        if (OnStartXmit is { } script)
        {
            return script(device, skb);
        }
        device.CountTx(skb);
        skb.Consume();
        return TxResult.Ok;
    }
}

/// <summary>The smallest driver: count and consume. It implements no optional operation.</summary>
public sealed class SinkDriver : IDeviceOperations<SinkDriver>
{
    public TxResult StartXmit(NetDevice<SinkDriver> device, SkBuff skb)
    {
        device.CountTx(skb);
        skb.Consume();
        return TxResult.Ok;
    }
}

/// <summary>
/// Gives every frame sent on it back to the system on the same queue, as a loopback device would:
/// copied into a receive buffer, handed over with NetifRx.
/// </summary>
public sealed class ReflectDriver : IDeviceOperations<ReflectDriver>
{
    public TxResult StartXmit(NetDevice<ReflectDriver> device, SkBuff skb)
    {
        var copy = device.AllocSkb(skb.QueueIndex);
        skb.Data.CopyTo(copy.Put(skb.Length));
        copy.Protocol = skb.Protocol;
        device.CountTx(skb);
        skb.Consume();
        device.NetifRx(copy);
        return TxResult.Ok;
    }
}
