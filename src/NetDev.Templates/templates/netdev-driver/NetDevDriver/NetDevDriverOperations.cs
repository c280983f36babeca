using NetDev;

namespace NetDevDriver;

/// <summary>
/// The driver: what the device does with each frame the kernel sends it. This one counts and frees every
/// frame, as Linux's drivers/net/dummy.c does; put your device's work here.
/// </summary>
public sealed class NetDevDriverOperations : IDeviceOperations<NetDevDriverOperations>
{
    private long _opened;

    /// <summary>How many times the device was brought up.</summary>
    public long Opened => Interlocked.Read(ref _opened);

    /// <summary>The device is going up (<c>ip link set NAME up</c>).</summary>
    public void Open(NetDevice<NetDevDriverOperations> device) => Interlocked.Increment(ref _opened);

    /// <summary>One frame from the kernel, on its queue's thread: count it, timestamp it, release it.</summary>
    public TxResult StartXmit(NetDevice<NetDevDriverOperations> device, SkBuff skb)
    {
        device.CountTx(skb);
        skb.TxTimestamp();
        skb.Consume();
        return TxResult.Ok;
    }
}
