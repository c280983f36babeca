namespace NetDev.Tests.Fakes;

/// <summary>
/// A driver that implements the life-cycle operations and the MTU and address changes, logs each call to a <see cref="CallLog"/> and lets the test
/// decide what each does. By default it transmits by counting and consuming the frame, like dummy.
/// </summary>
public sealed class RecordingDriver(CallLog log) : IDeviceOperations<RecordingDriver>, IDisposable
{
    public CallLog Log { get; } = log;

    public Action<NetDevice<RecordingDriver>>? OnInit { get; set; }

    public Action<NetDevice<RecordingDriver>>? OnUninit { get; set; }

    public Action<NetDevice<RecordingDriver>>? OnOpen { get; set; }

    public Action<NetDevice<RecordingDriver>>? OnStop { get; set; }

    public Action<NetDevice<RecordingDriver>, int>? OnChangeMtu { get; set; }

    public Action<NetDevice<RecordingDriver>, MacAddress>? OnSetMacAddress { get; set; }

    public Func<NetDevice<RecordingDriver>, SkBuff, TxResult> OnStartXmit { get; set; } = static (device, skb) =>
    {
        device.CountTx(skb);
        skb.Consume();
        return TxResult.Ok;
    };

    /// <summary>Every frame handle StartXmit was given, in order (handles compare by frame identity).</summary>
    public List<SkBuff> Offered { get; } = [];

    public int DisposeCount { get; private set; }

    public void Init(NetDevice<RecordingDriver> device)
    {
        Log.Add("driver.Init");
        OnInit?.Invoke(device);
    }

    public void Uninit(NetDevice<RecordingDriver> device)
    {
        Log.Add("driver.Uninit");
        OnUninit?.Invoke(device);
    }

    public void Open(NetDevice<RecordingDriver> device)
    {
        Log.Add("driver.Open");
        OnOpen?.Invoke(device);
    }

    public void Stop(NetDevice<RecordingDriver> device)
    {
        Log.Add("driver.Stop");
        OnStop?.Invoke(device);
    }

    public void ChangeMtu(NetDevice<RecordingDriver> device, int newMtu)
    {
        Log.Add("driver.ChangeMtu");
        OnChangeMtu?.Invoke(device, newMtu);
    }

    public void SetMacAddress(NetDevice<RecordingDriver> device, MacAddress address)
    {
        Log.Add("driver.SetMacAddress");
        OnSetMacAddress?.Invoke(device, address);
    }

    public TxResult StartXmit(NetDevice<RecordingDriver> device, SkBuff skb)
    {
        Log.Add("driver.StartXmit");
        Offered.Add(skb);
        return OnStartXmit(device, skb);
    }

    public void Dispose()
    {
        Log.Add("driver.Dispose");
        DisposeCount++;
    }
}

/// <summary>A driver whose private data is only asynchronously disposable.</summary>
public sealed class AsyncDisposableDriver(CallLog log) : IDeviceOperations<AsyncDisposableDriver>, IAsyncDisposable
{
    public int DisposeAsyncCount { get; private set; }

    public void Uninit(NetDevice<AsyncDisposableDriver> device) => log.Add("driver.Uninit");

    public void Stop(NetDevice<AsyncDisposableDriver> device) => log.Add("driver.Stop");

    public TxResult StartXmit(NetDevice<AsyncDisposableDriver> device, SkBuff skb)
    {
        skb.Consume();
        return TxResult.Ok;
    }

    public async ValueTask DisposeAsync()
    {
        // Really asynchronous, so a synchronous Dispose that forgot to wait would be caught.
        await Task.Yield();
        log.Add("driver.DisposeAsync");
        DisposeAsyncCount++;
    }
}

/// <summary>The smallest possible driver: StartXmit and nothing else.</summary>
public sealed class MinimalDriver : IDeviceOperations<MinimalDriver>
{
    public int Transmitted { get; private set; }

    public TxResult StartXmit(NetDevice<MinimalDriver> device, SkBuff skb)
    {
        Transmitted++;
        device.CountTx(skb);
        skb.Consume();
        return TxResult.Ok;
    }
}

/// <summary>A driver that names itself.</summary>
public sealed class NamedDriver : IDeviceOperations<NamedDriver>, IDriverInfo
{
    public string DriverName => "named-test";

    public TxResult StartXmit(NetDevice<NamedDriver> device, SkBuff skb)
    {
        skb.Drop(DropReason.NotSpecified);
        return TxResult.Ok;
    }
}
