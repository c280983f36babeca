using static NetDev.Analyzers.Tests.Verifier;

namespace NetDev.Analyzers.Tests;

public class CodeFixTests
{
    [Fact]
    public Task DropIsAppendedWhereTheMethodEnds() => FixAsync("""
        class Receiver
        {
            void Receive(NetDevice device)
            {
                var skb = device.AllocSkb();
                skb.Put(60);
            {|NETDEV001:}|}
        }
        """, """
        class Receiver
        {
            void Receive(NetDevice device)
            {
                var skb = device.AllocSkb();
                skb.Put(60);
                skb.Drop(DropReason.NotSpecified);
            }
        }
        """);

    [Fact]
    public Task DropIsInsertedBeforeAnEmbeddedReturn() => FixAsync("""
        class Receiver
        {
            void Receive(NetDevice device, int length)
            {
                var skb = device.AllocSkb();
                if (length > skb.Tailroom)
                    {|NETDEV001:return;|}
                skb.Put(length);
                device.NetifRx(skb);
            }
        }
        """, """
        class Receiver
        {
            void Receive(NetDevice device, int length)
            {
                var skb = device.AllocSkb();
                if (length > skb.Tailroom)
                {
                    skb.Drop(DropReason.NotSpecified);
                    return;
                }
                skb.Put(length);
                device.NetifRx(skb);
            }
        }
        """);

    [Fact]
    public Task DropIsInsertedBeforeAContinue() => FixAsync("""
        class Receiver
        {
            void Poll(NetDevice device, int[] lengths)
            {
                foreach (var length in lengths)
                {
                    var skb = device.AllocSkb();
                    if (length == 0)
                    {
                        {|NETDEV001:continue;|}
                    }
                    skb.Put(length);
                    device.NetifRx(skb);
                }
            }
        }
        """, """
        class Receiver
        {
            void Poll(NetDevice device, int[] lengths)
            {
                foreach (var length in lengths)
                {
                    var skb = device.AllocSkb();
                    if (length == 0)
                    {
                        skb.Drop(DropReason.NotSpecified);
                        continue;
                    }
                    skb.Put(length);
                    device.NetifRx(skb);
                }
            }
        }
        """);

    [Fact]
    public Task StartXmitOkGetsADropBeforeItsReturn() => FixAsync("""
        sealed class Leaky : IDeviceOperations<Leaky>
        {
            public TxResult StartXmit(NetDevice<Leaky> device, SkBuff skb)
            {
                device.CountTx(skb);
                {|NETDEV004:return TxResult.Ok;|}
            }
        }
        """, """
        sealed class Leaky : IDeviceOperations<Leaky>
        {
            public TxResult StartXmit(NetDevice<Leaky> device, SkBuff skb)
            {
                device.CountTx(skb);
                skb.Drop(DropReason.NotSpecified);
                return TxResult.Ok;
            }
        }
        """);

    [Fact]
    public Task BusyAfterReleaseBecomesOk() => FixAsync("""
        sealed class Confused : IDeviceOperations<Confused>
        {
            public TxResult StartXmit(NetDevice<Confused> device, SkBuff skb)
            {
                skb.Drop(DropReason.QueueFull);
                {|NETDEV005:return TxResult.Busy;|}
            }
        }
        """, """
        sealed class Confused : IDeviceOperations<Confused>
        {
            public TxResult StartXmit(NetDevice<Confused> device, SkBuff skb)
            {
                skb.Drop(DropReason.QueueFull);
                return TxResult.Ok;
            }
        }
        """);

    [Fact]
    public Task SecondReleaseIsRemoved() => FixAsync("""
        class Driver
        {
            void Send(SkBuffPool pool)
            {
                var skb = pool.Rent();
                skb.Consume();
                {|NETDEV003:skb.Drop(DropReason.NotSpecified)|};
            }
        }
        """, """
        class Driver
        {
            void Send(SkBuffPool pool)
            {
                var skb = pool.Rent();
                skb.Consume();
            }
        }
        """);

    [Fact]
    public Task BorrowedParameterIsMarkedTakesOwnership() => FixAsync("""
        class Helpers
        {
            static void Discard(SkBuff skb, DropReason reason)
            {
                {|NETDEV007:skb.Drop(reason)|};
            }
        }
        """, """
        class Helpers
        {
            static void Discard([TakesOwnership] SkBuff skb, DropReason reason)
            {
                skb.Drop(reason);
            }
        }
        """);

    [Fact]
    public Task DisposeBecomesDrop() => FixAsync("""
        static class SkBuffExtensions
        {
            public static void Dispose(this SkBuff skb) { }
        }

        class Driver
        {
            void Send(SkBuffPool pool)
            {
                var skb = pool.Rent();
                {|NETDEV006:skb.Dispose()|};
            {|NETDEV001:}|}
        }
        """, """
        static class SkBuffExtensions
        {
            public static void Dispose(this SkBuff skb) { }
        }

        class Driver
        {
            void Send(SkBuffPool pool)
            {
                var skb = pool.Rent();
                skb.Drop(DropReason.NotSpecified);
            }
        }
        """);

    [Fact]
    public Task NoDropIsOfferedWhereTheFrameIsOnlyMaybeOwned() => FixAsync("""
        class Driver
        {
            void Send(SkBuffPool pool, bool early)
            {
                var skb = pool.Rent();
                if (early)
                {
                    skb.Consume();
                }
            {|NETDEV001:}|}
        }
        """, """
        class Driver
        {
            void Send(SkBuffPool pool, bool early)
            {
                var skb = pool.Rent();
                if (early)
                {
                    skb.Consume();
                }
            {|NETDEV001:}|}
        }
        """, iterations: 0);
}
