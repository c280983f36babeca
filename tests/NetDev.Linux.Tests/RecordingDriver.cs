using System.Collections.Concurrent;

namespace NetDev.Linux.Tests;

/// <summary>A driver that remembers every call and a copy of every frame, for tests against the kernel.</summary>
public sealed class RecordingDriver : IDeviceOperations<RecordingDriver>, IDisposable
{
    private readonly ConcurrentQueue<string> _calls = new();

    public ConcurrentQueue<byte[]> Frames { get; } = new();

    public ConcurrentQueue<int> FrameQueues { get; } = new();

    /// <summary>Each frame's offload state, in the order of <see cref="Frames"/>.</summary>
    public ConcurrentQueue<SkBuffOffload> Offloads { get; } = new();

    public Action<NetDevice<RecordingDriver>>? OnInit { get; init; }

    public Action<NetDevice<RecordingDriver>>? OnOpen { get; init; }

    /// <summary>MTUs the driver refuses (ChangeMtu throws for them).</summary>
    public Func<int, bool> RefuseMtu { get; init; } = _ => false;

    /// <summary>Addresses the driver refuses (SetMacAddress throws for them).</summary>
    public Func<MacAddress, bool> RefuseAddress { get; init; } = _ => false;

    public ConcurrentQueue<string> Changes { get; } = new();

    public ConcurrentQueue<int> TimedOutQueues { get; } = new();

    public bool Disposed { get; private set; }

    /// <summary>The device's interface still existed (in the kernel) when Uninit ran.</summary>
    public Func<bool>? InterfaceProbe { get; set; }

    public bool InterfaceExistedAtUninit { get; private set; }

    public bool UninitBeforeDispose { get; private set; }

    public IReadOnlyList<string> Calls => _calls.ToArray();

    public int Count(string call) => _calls.Count(c => c == call);

    public void Init(NetDevice<RecordingDriver> device)
    {
        _calls.Enqueue("Init");
        OnInit?.Invoke(device);
    }

    public void Uninit(NetDevice<RecordingDriver> device)
    {
        _calls.Enqueue("Uninit");
        InterfaceExistedAtUninit = InterfaceProbe?.Invoke() ?? false;
        UninitBeforeDispose = !Disposed;
    }

    public void Open(NetDevice<RecordingDriver> device)
    {
        _calls.Enqueue("Open");
        OnOpen?.Invoke(device);
    }

    public void Stop(NetDevice<RecordingDriver> device) => _calls.Enqueue("Stop");

    public void ChangeMtu(NetDevice<RecordingDriver> device, int newMtu)
    {
        Changes.Enqueue($"mtu {newMtu}");
        if (RefuseMtu(newMtu))
        {
            throw new NotSupportedException($"this hardware cannot do MTU {newMtu}");
        }
    }

    public void SetMacAddress(NetDevice<RecordingDriver> device, MacAddress address)
    {
        Changes.Enqueue($"address {address}");
        if (RefuseAddress(address))
        {
            throw new NotSupportedException($"address {address} is reserved");
        }
    }

    public void SetRxMode(NetDevice<RecordingDriver> device) =>
        Changes.Enqueue($"rxmode promisc={(device.Flags & DeviceFlags.Promisc) != 0} allmulti={(device.Flags & DeviceFlags.AllMulti) != 0}");

    public void ChangeCarrier(NetDevice<RecordingDriver> device, bool carrier) => Changes.Enqueue($"carrier {(carrier ? "on" : "off")}");

    public void TxTimeout(NetDevice<RecordingDriver> device, int queue)
    {
        TimedOutQueues.Enqueue(queue);
        device.WakeQueue(queue);
    }

    /// <summary>What <see cref="DeviceQueue.XmitMore"/> said for each frame, in the order of <see cref="Frames"/>.</summary>
    public ConcurrentQueue<bool> XmitMore { get; } = new();

    public TxResult StartXmit(NetDevice<RecordingDriver> device, SkBuff skb)
    {
        XmitMore.Enqueue(device.Queues[skb.QueueIndex].XmitMore);
        Frames.Enqueue(skb.Data.ToArray());
        Offloads.Enqueue(skb.Offload);
        FrameQueues.Enqueue(skb.QueueIndex);
        device.CountTx(skb);
        skb.Consume();
        return TxResult.Ok;
    }

    public void Dispose()
    {
        _calls.Enqueue("Dispose");
        Disposed = true;
    }
}
