using static NetDev.Analyzers.Tests.Verifier;

namespace NetDev.Analyzers.Tests;

public class UseAfterReleaseTests
{
    [Fact]
    public Task MemberAccessAfterConsume() => AnalyzeAsync("""
        class Driver
        {
            int Send(SkBuffPool pool)
            {
                var skb = pool.Rent();
                skb.Consume();
                return {|NETDEV002:skb|}.Length;
            }
        }
        """);

    [Fact]
    public Task UseAfterHandingTheFrameToNetifRx() => AnalyzeAsync("""
        class Receiver
        {
            long _bytes;

            void Receive(NetDevice device)
            {
                var skb = device.AllocSkb();
                skb.Put(60);
                device.NetifRx(skb);
                _bytes += {|NETDEV002:skb|}.Length;
            }
        }
        """);

    [Fact]
    public Task UseAfterDropOnOneBranchOnly() => AnalyzeAsync("""
        class Filter
        {
            void Handle(NetDevice device, bool bad)
            {
                var skb = device.AllocSkb();
                skb.Put(60);
                if (bad)
                {
                    skb.Drop(DropReason.Filtered);
                }
                {|NETDEV002:skb|}.Protocol = 0x0800;
                device.NetifRx({|NETDEV003:skb|});
            }
        }
        """);

    [Fact]
    public Task BorrowingAReleasedFrameIsAUse() => AnalyzeAsync("""
        class Driver
        {
            static int Peek(SkBuff skb) => skb.Length;

            void Send(SkBuffPool pool)
            {
                var skb = pool.Rent();
                skb.Consume();
                Peek({|NETDEV002:skb|});
            }
        }
        """);

    [Fact]
    public Task ReleaseInsideALoopIsFoundOnTheSecondIteration() => AnalyzeAsync("""
        class Driver
        {
            void Send(SkBuffPool pool, int count)
            {
                var skb = pool.Rent();
                for (var i = 0; i < count; i++)
                {
                    {|NETDEV002:skb|}.Put(1);
                    {|NETDEV003:skb.Consume()|};
                }
            {|NETDEV001:}|}
        }
        """);

    [Fact]
    public Task StoringAReleasedFrameIsAUse() => AnalyzeAsync("""
        class Driver
        {
            SkBuff _last;

            void Send(SkBuffPool pool)
            {
                var skb = pool.Rent();
                skb.Drop(DropReason.QueueFull);
                _last = {|NETDEV002:skb|};
            }
        }
        """);

    [Fact]
    public Task IsLiveAndEqualityMayLookAtAReleasedHandle() => AnalyzeAsync("""
        class Driver
        {
            bool Check(SkBuffPool pool, SkBuff other)
            {
                var skb = pool.Rent();
                skb.Consume();
                return !skb.IsLive && skb != other && !skb.Equals(other) && skb.ToString().Length > 0;
            }
        }
        """);
}
