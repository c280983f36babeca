using static NetDev.Analyzers.Tests.Verifier;

namespace NetDev.Analyzers.Tests;

public class DoubleReleaseTests
{
    [Fact]
    public Task ConsumeThenDrop() => AnalyzeAsync("""
        class Driver
        {
            void Send(SkBuffPool pool)
            {
                var skb = pool.Rent();
                skb.Consume();
                {|NETDEV003:skb.Drop(DropReason.NotSpecified)|};
            }
        }
        """);

    [Fact]
    public Task ReleaseInTryAndAgainInFinally() => AnalyzeAsync("""
        class Driver
        {
            void Send(SkBuffPool pool, System.IO.Stream stream)
            {
                var skb = pool.Rent();
                try
                {
                    stream.Write(skb.Data);
                    skb.Consume();
                }
                finally
                {
                    {|NETDEV003:skb.Drop(DropReason.TransmitError)|};
                }
            }
        }
        """);

    [Fact]
    public Task ReleaseInCatchAfterTheTryMayHaveReleased() => AnalyzeAsync("""
        class Driver
        {
            void Send(SkBuffPool pool, System.IO.Stream stream)
            {
                var skb = pool.Rent();
                try
                {
                    skb.Consume();
                    stream.Flush();
                }
                catch (System.IO.IOException)
                {
                    {|NETDEV003:skb.Drop(DropReason.TransmitError)|};
                }
            }
        }
        """);

    [Fact]
    public Task ReturningToThePoolAfterNetifRx() => AnalyzeAsync("""
        class Receiver
        {
            void Receive(NetDevice device, SkBuffPool pool)
            {
                var skb = pool.Rent();
                device.NetifRx(skb);
                pool.Return({|NETDEV003:skb|});
            }
        }
        """);

    [Fact]
    public Task ReleasingAfterStoringKillsTheStoredCopy() => AnalyzeAsync("""
        class Driver
        {
            readonly Queue<SkBuff> _backlog = new();

            void Defer(SkBuffPool pool)
            {
                var skb = pool.Rent();
                _backlog.Enqueue(skb);
                {|NETDEV003:skb.Consume()|};
            }
        }
        """);

    [Fact]
    public Task SwitchWithReleaseInEverySectionAndAfter() => AnalyzeAsync("""
        class Driver
        {
            void Send(SkBuffPool pool, int kind)
            {
                var skb = pool.Rent();
                switch (kind)
                {
                    case 0:
                        skb.Consume();
                        break;
                    default:
                        skb.Drop(DropReason.UnhandledProtocol);
                        break;
                }
                {|NETDEV003:skb.Consume()|};
            }
        }
        """);
}
