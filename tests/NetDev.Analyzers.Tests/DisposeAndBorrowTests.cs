using static NetDev.Analyzers.Tests.Verifier;

namespace NetDev.Analyzers.Tests;

public class DisposeStyleReleaseTests
{
    [Fact]
    public Task DisposeExtensionOnAnSkBuffWarns() => AnalyzeAsync("""
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
        """);

    [Fact]
    public Task UsingOnADisposableWrapperHoldingAnSkBuffWarns() => AnalyzeAsync("""
        readonly struct Lease : IDisposable
        {
            private readonly SkBuff _skb;

            public Lease([TakesOwnership] SkBuff skb) => _skb = skb;

            public void Dispose() => _skb.Drop(DropReason.NotSpecified);
        }

        class Driver
        {
            void Send(SkBuffPool pool)
            {
                {|NETDEV006:using var lease = new Lease(pool.Rent());|}
            }
        }
        """);

    [Fact]
    public Task UsingOnOrdinaryDisposablesIsSilent() => AnalyzeAsync("""
        class Driver
        {
            void Send(SkBuffPool pool)
            {
                using var stream = new System.IO.MemoryStream();
                var skb = pool.Rent();
                stream.Write(skb.Data);
                skb.Consume();
            }
        }
        """);
}

public class BorrowedParameterTests
{
    [Fact]
    public Task ReleasingABorrowedParameter() => AnalyzeAsync("""
        class Helpers
        {
            static void Discard(SkBuff skb) => {|NETDEV007:skb.Drop(DropReason.Filtered)|};
        }
        """);

    [Fact]
    public Task StoringABorrowedParameter() => AnalyzeAsync("""
        class Helpers
        {
            readonly List<SkBuff> _held = new();

            void Hold(SkBuff skb) => _held.Add({|NETDEV007:skb|});
        }
        """);

    [Fact]
    public Task HandingABorrowedParameterOn() => AnalyzeAsync("""
        class Helpers
        {
            static void Deliver(NetDevice device, SkBuff skb) => device.NetifRx({|NETDEV007:skb|});
        }
        """);

    [Fact]
    public Task TakesOwnershipMakesTheSameMethodsCorrect() => AnalyzeAsync("""
        class Helpers
        {
            readonly List<SkBuff> _held = new();

            static void Discard([TakesOwnership] SkBuff skb) => skb.Drop(DropReason.Filtered);

            void Hold([TakesOwnership] SkBuff skb) => _held.Add(skb);

            static void Deliver(NetDevice device, [TakesOwnership] SkBuff skb) => device.NetifRx(skb);

            void Caller(SkBuffPool pool)
            {
                Discard(pool.Rent());
                var skb = pool.Rent();
                Hold(skb);
                var other = pool.Rent();
                Deliver(null!, other);
            }
        }
        """);

    [Fact]
    public Task TheAttributeIsInheritedFromTheInterfaceMember() => AnalyzeAsync("""
        interface ISink
        {
            void Put([TakesOwnership] SkBuff skb);
        }

        sealed class DroppingSink : ISink
        {
            public void Put(SkBuff skb) => skb.Drop(DropReason.Filtered);
        }

        sealed class LeakingSink : ISink
        {
            public void Put(SkBuff skb)
            {
            {|NETDEV001:}|}
        }
        """);

    [Fact]
    public Task ReadingABorrowedParameterIsFine() => AnalyzeAsync("""
        class Helpers
        {
            static int EtherType(SkBuff skb) => skb.Data[12] << 8 | skb.Data[13];
        }
        """);
}
