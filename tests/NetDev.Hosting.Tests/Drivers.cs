namespace NetDev.Hosting.Tests;

/// <summary>Frees every frame; counts nothing of its own.</summary>
public sealed class SinkDriver : IDeviceOperations<SinkDriver>
{
    public TxResult StartXmit(NetDevice<SinkDriver> device, SkBuff skb)
    {
        device.CountTx(skb);
        skb.Consume();
        return TxResult.Ok;
    }
}

/// <summary>A driver whose <c>Stop</c> does not return until the test lets it: a teardown that overruns the host's shutdown timeout.</summary>
public sealed class StuckStopDriver : IDeviceOperations<StuckStopDriver>
{
    public ManualResetEventSlim Entered { get; } = new();

    public ManualResetEventSlim Release { get; } = new();

    public TxResult StartXmit(NetDevice<StuckStopDriver> device, SkBuff skb)
    {
        skb.Consume();
        return TxResult.Ok;
    }

    public void Stop(NetDevice<StuckStopDriver> device)
    {
        Entered.Set();
        Release.Wait();
    }
}
