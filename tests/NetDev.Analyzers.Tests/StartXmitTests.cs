using static NetDev.Analyzers.Tests.Verifier;

namespace NetDev.Analyzers.Tests;

public class StartXmitTests
{
    [Fact]
    public Task OkWithoutReleasingTheFrame() => AnalyzeAsync("""
        sealed class Leaky : IDeviceOperations<Leaky>
        {
            public TxResult StartXmit(NetDevice<Leaky> device, SkBuff skb)
            {
                device.CountTx(skb);
                {|NETDEV004:return TxResult.Ok;|}
            }
        }
        """);

    [Fact]
    public Task OkOnOneBranchWithoutRelease() => AnalyzeAsync("""
        sealed class Leaky : IDeviceOperations<Leaky>
        {
            public TxResult StartXmit(NetDevice<Leaky> device, SkBuff skb)
            {
                if (skb.Length < NetDevice.EthernetHeaderLength)
                {
                    {|NETDEV004:return TxResult.Ok;|}
                }
                device.CountTx(skb);
                skb.Consume();
                return TxResult.Ok;
            }
        }
        """);

    [Fact]
    public Task ExpressionBodiedOkLeaks() => AnalyzeAsync("""
        sealed class Leaky : IDeviceOperations<Leaky>
        {
            public TxResult StartXmit(NetDevice<Leaky> device, SkBuff skb) {|NETDEV004:=> TxResult.Ok|};
        }
        """);

    [Fact]
    public Task BusyAfterDroppingTheFrame() => AnalyzeAsync("""
        sealed class Confused : IDeviceOperations<Confused>
        {
            public TxResult StartXmit(NetDevice<Confused> device, SkBuff skb)
            {
                if (device.Queues[skb.QueueIndex].IsStopped)
                {
                    skb.Drop(DropReason.QueueFull);
                    {|NETDEV005:return TxResult.Busy;|}
                }
                skb.Consume();
                return TxResult.Ok;
            }
        }
        """);

    [Fact]
    public Task BusyAfterStoringTheFrame() => AnalyzeAsync("""
        sealed class Confused : IDeviceOperations<Confused>
        {
            readonly Queue<SkBuff> _ring = new();

            public TxResult StartXmit(NetDevice<Confused> device, SkBuff skb)
            {
                _ring.Enqueue(skb);
                {|NETDEV005:return TxResult.Busy;|}
            }
        }
        """);

    [Fact]
    public Task ExplicitInterfaceImplementationIsRecognised() => AnalyzeAsync("""
        sealed class Leaky : IDeviceOperations<Leaky>
        {
            TxResult IDeviceOperations<Leaky>.StartXmit(NetDevice<Leaky> device, SkBuff skb)
            {
                {|NETDEV004:return TxResult.Ok;|}
            }
        }
        """);

    [Fact]
    public Task UseAfterReleaseInsideStartXmit() => AnalyzeAsync("""
        sealed class Careless : IDeviceOperations<Careless>
        {
            public TxResult StartXmit(NetDevice<Careless> device, SkBuff skb)
            {
                skb.Consume();
                device.CountTx({|NETDEV002:skb|});
                return TxResult.Ok;
            }
        }
        """);

    [Fact]
    public Task BusyWithTheFrameStillOwnedAndThrowingAreFine() => AnalyzeAsync("""
        sealed class Careful : IDeviceOperations<Careful>
        {
            public TxResult StartXmit(NetDevice<Careful> device, SkBuff skb)
            {
                if (device.Queues[skb.QueueIndex].IsStopped)
                {
                    return TxResult.Busy;
                }
                if (skb.Length > 9000)
                {
                    // The framework drops a frame StartXmit still owns when it throws.
                    throw new InvalidOperationException("jumbo frames are not supported");
                }
                skb.Consume();
                return TxResult.Ok;
            }
        }
        """);
}
