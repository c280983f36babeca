using static NetDev.Analyzers.Tests.Verifier;

namespace NetDev.Analyzers.Tests;

public class LeakTests
{
    [Fact]
    public Task FrameNeverReleasedLeaksAtTheEndOfTheMethod() => AnalyzeAsync("""
        class Receiver
        {
            void Receive(NetDevice device, byte[] bytes)
            {
                var skb = device.AllocSkb();
                bytes.CopyTo(skb.Put(bytes.Length));
            {|NETDEV001:}|}
        }
        """);

    [Fact]
    public Task EarlyReturnOnOneBranchLeaks() => AnalyzeAsync("""
        class Receiver
        {
            void Receive(NetDevice device, byte[] bytes)
            {
                var skb = device.AllocSkb();
                if (bytes.Length > skb.Tailroom)
                    {|NETDEV001:return;|}
                bytes.CopyTo(skb.Put(bytes.Length));
                device.NetifRx(skb);
            }
        }
        """);

    [Fact]
    public Task ContinueInALoopLeaksTheIterationsFrame() => AnalyzeAsync("""
        class Receiver
        {
            void Poll(NetDevice device, Queue<byte[]> pending)
            {
                while (pending.TryDequeue(out var bytes))
                {
                    var skb = device.AllocSkb();
                    if (bytes.Length == 0)
                    {
                        {|NETDEV001:continue;|}
                    }
                    bytes.CopyTo(skb.Put(bytes.Length));
                    device.NetifRx(skb);
                }
            }
        }
        """);

    [Fact]
    public Task SwitchSectionThatForgetsTheFrameLeaks() => AnalyzeAsync("""
        class Classifier
        {
            void Handle(NetDevice device, SkBuffPool pool, int kind)
            {
                var skb = pool.Rent();
                switch (kind)
                {
                    case 1:
                        device.NetifRx(skb);
                        break;
                    case 2:
                        skb.Put(4);
                        {|NETDEV001:break;|}
                    default:
                        skb.Drop(DropReason.UnhandledProtocol);
                        break;
                }
            }
        }
        """);

    [Fact]
    public Task ThrowWhileOwningAFrameLeaks() => AnalyzeAsync("""
        class Receiver
        {
            void Receive(NetDevice device, int length)
            {
                var skb = device.AllocSkb();
                if (length > skb.Tailroom)
                {
                    {|NETDEV001:throw new ArgumentOutOfRangeException(nameof(length));|}
                }
                skb.Put(length);
                device.NetifRx(skb);
            }
        }
        """);

    [Fact]
    public Task OverwritingAnOwnedVariableLeaksTheFirstFrame() => AnalyzeAsync("""
        class Receiver
        {
            void Receive(SkBuffPool pool)
            {
                var skb = pool.Rent();
                {|NETDEV001:skb = pool.Rent()|};
                skb.Consume();
            }
        }
        """);

    [Fact]
    public Task DiscardedRentLeaks() => AnalyzeAsync("""
        class Warmup
        {
            void Touch(SkBuffPool pool)
            {
                {|NETDEV001:pool.Rent()|};
                _ = {|NETDEV001:pool.Rent(4096)|};
                var length = {|NETDEV001:pool.Rent()|}.Length;
            }
        }
        """);

    [Fact]
    public Task OwnedParameterMustBeReleasedOnEveryPath() => AnalyzeAsync("""
        class Forwarder
        {
            void Forward([TakesOwnership] SkBuff skb, bool ready, NetDevice device)
            {
                if (ready)
                {
                    device.NetifRx(skb);
                }
            {|NETDEV001:}|}
        }
        """);

    [Fact]
    public Task ExceptionCaughtWithoutReleaseLeaksFromTheCatch() => AnalyzeAsync("""
        class Sender
        {
            void Send(SkBuffPool pool, System.IO.Stream stream)
            {
                var skb = pool.Rent();
                try
                {
                    stream.Write(skb.Data);
                }
                catch (System.IO.IOException error)
                {
                    Console.Error.WriteLine(error.Message);
                    {|NETDEV001:return;|}
                }
                skb.Consume();
            }
        }
        """);

    [Fact]
    public Task LeakInsideTryFinallyIsReportedAtTheReturn() => AnalyzeAsync("""
        class Sender
        {
            int _busy;

            void Send(SkBuffPool pool, bool ok)
            {
                var skb = pool.Rent();
                try
                {
                    _busy++;
                    if (!ok)
                        {|NETDEV001:return;|}
                    skb.Consume();
                }
                finally
                {
                    _busy--;
                }
            }
        }
        """);

    [Fact]
    public Task LambdaBodiesAreAnalyzedOnTheirOwn() => AnalyzeAsync("""
        class Receiver
        {
            Action Later(SkBuffPool pool) => () =>
            {
                var skb = pool.Rent();
                skb.Put(1);
            {|NETDEV001:}|};
        }
        """);

    [Fact]
    public Task LocalFunctionsAreAnalyzedOnTheirOwn() => AnalyzeAsync("""
        class Receiver
        {
            void Receive(SkBuffPool pool)
            {
                Fill();

                void Fill()
                {
                    var skb = pool.Rent();
                    skb.Put(1);
                {|NETDEV001:}|}
            }
        }
        """);

    [Fact]
    public Task ConditionalChoiceOfFreshFramesIsTracked() => AnalyzeAsync("""
        class Receiver
        {
            void Receive(NetDevice device, SkBuffPool pool, bool big)
            {
                var skb = big ? pool.Rent(9000) : device.AllocSkb();
                skb.Put(14);
            {|NETDEV001:}|}
        }
        """);

    [Fact]
    public Task WithoutAKnownExitTheLeakIsReportedAtTheDeclaration() => AnalyzeAsync("""
        class Sender
        {
            void Send(SkBuffPool pool, System.IO.Stream stream)
            {
                var {|NETDEV001:skb|} = pool.Rent();
                try
                {
                    stream.Write(skb.Data);
                }
                catch (System.IO.IOException)
                {
                    return;
                }
                skb.Consume();
            }
        }
        """);

    [Fact]
    public Task FramesTakenOutOfContainersMustBeReleased() => AnalyzeAsync("""
        class Backlog
        {
            readonly Queue<SkBuff> _queue = new();

            void DropOldest()
            {
                var skb = _queue.Dequeue();
                skb.Put(0);
            {|NETDEV001:}|}

            async Task PumpAsync(System.Threading.Channels.ChannelReader<SkBuff> reader)
            {
                var skb = await reader.ReadAsync();
                skb.Put(0);
            {|NETDEV001:}|}
        }
        """);

    [Fact]
    public Task ConditionalAccessStoresTheFrameOnlyOnOnePath() => AnalyzeAsync("""
        class Backlog
        {
            Queue<SkBuff>? _queue;

            void Park(SkBuffPool pool)
            {
                var skb = pool.Rent();
                _queue?.Enqueue(skb);
            {|NETDEV001:}|}
        }
        """);
}
