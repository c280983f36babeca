using System.Collections.Concurrent;

namespace NetDev.Linux.Tests;

/// <summary>A driver that remembers every call and a copy of every frame, for tests against the kernel.</summary>
public sealed class RecordingDriver : IDeviceOperations<RecordingDriver>, IDisposable
{
    private readonly ConcurrentQueue<string> _calls = new();

    public ConcurrentQueue<byte[]> Frames { get; } = new();

    public ConcurrentQueue<int> FrameQueues { get; } = new();

    public Action<NetDevice<RecordingDriver>>? OnInit { get; init; }

    public Action<NetDevice<RecordingDriver>>? OnOpen { get; init; }

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

    public TxResult StartXmit(NetDevice<RecordingDriver> device, SkBuff skb)
    {
        Frames.Enqueue(skb.Data.ToArray());
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
