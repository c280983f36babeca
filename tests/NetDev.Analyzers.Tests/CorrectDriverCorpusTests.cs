using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Testing;
using static NetDev.Analyzers.Tests.Verifier;

namespace NetDev.Analyzers.Tests;

/// <summary>
/// Correct driver code in the shapes drivers take: every rule must stay silent on it. A false positive
/// here is as much a bug as a missed leak, since the rules are build errors.
/// </summary>
public class CorrectDriverCorpusTests
{
    [Fact]
    public Task DummyStyleTransmit() => AnalyzeAsync("""
        sealed class Dummy : IDeviceOperations<Dummy>
        {
            public TxResult StartXmit(NetDevice<Dummy> device, SkBuff skb)
            {
                device.CountTx(skb);
                skb.TxTimestamp();
                skb.Consume();
                return TxResult.Ok;
            }
        }
        """);

    [Fact]
    public Task LoopbackHandsTheFrameBackToTheSystem() => AnalyzeAsync("""
        sealed class Loopback : IDeviceOperations<Loopback>
        {
            public TxResult StartXmit(NetDevice<Loopback> device, SkBuff skb)
            {
                device.CountTx(skb);
                device.NetifRx(skb);
                return TxResult.Ok;
            }
        }
        """);

    [Fact]
    public Task RingDriverKeepsFramesAndAnswersBusyWhenFull() => AnalyzeAsync("""
        sealed class Ring : IDeviceOperations<Ring>
        {
            private const int Size = 256;
            private readonly SkBuff[] _slots = new SkBuff[Size];
            private readonly object _lock = new();
            private int _head;
            private int _count;

            public TxResult StartXmit(NetDevice<Ring> device, SkBuff skb)
            {
                lock (_lock)
                {
                    if (_count == Size)
                    {
                        device.StopQueue(skb.QueueIndex);
                        return TxResult.Busy;
                    }
                    _slots[(_head + _count) % Size] = skb;
                    _count++;
                }
                return TxResult.Ok;
            }

            public void Complete(NetDevice<Ring> device, int done)
            {
                for (var i = 0; i < done; i++)
                {
                    SkBuff skb;
                    lock (_lock)
                    {
                        if (_count == 0)
                        {
                            break;
                        }
                        skb = _slots[_head];
                        _slots[_head] = default;
                        _head = (_head + 1) % Size;
                        _count--;
                    }
                    device.CountTx(skb);
                    skb.Consume();
                }
                device.WakeQueue(0);
            }

            public void Stop(NetDevice<Ring> device)
            {
                lock (_lock)
                {
                    while (_count > 0)
                    {
                        _slots[_head].Drop(DropReason.DeviceDown);
                        _slots[_head] = default;
                        _head = (_head + 1) % Size;
                        _count--;
                    }
                }
            }
        }
        """);

    [Fact]
    public Task FilterSwitchesOnTheEtherType() => AnalyzeAsync("""
        sealed class Filter : IDeviceOperations<Filter>
        {
            public TxResult StartXmit(NetDevice<Filter> device, SkBuff skb)
            {
                if (skb.Length < NetDevice.EthernetHeaderLength)
                {
                    skb.Drop(DropReason.PacketTooSmall);
                    return TxResult.Ok;
                }
                var etherType = skb.Data[12] << 8 | skb.Data[13];
                switch (etherType)
                {
                    case 0x0800:
                    case 0x86DD:
                        device.CountTx(skb);
                        skb.Consume();
                        break;
                    case 0x0806:
                        skb.Drop(DropReason.Filtered);
                        break;
                    default:
                        skb.Drop(DropReason.UnhandledProtocol);
                        break;
                }
                return TxResult.Ok;
            }
        }
        """);

    [Fact]
    public Task StreamDriverWithTryCatchFinally() => AnalyzeAsync("""
        sealed class StreamDriver(System.IO.Stream stream) : IDeviceOperations<StreamDriver>
        {
            private int _inFlight;

            public TxResult StartXmit(NetDevice<StreamDriver> device, SkBuff skb)
            {
                _inFlight++;
                try
                {
                    stream.Write(skb.Data);
                    device.CountTx(skb);
                    skb.Consume();
                }
                catch (System.IO.IOException error)
                {
                    device.Logger.GetHashCode();
                    Console.Error.WriteLine(error.Message);
                    device.Queues[skb.QueueIndex].CountTxError();
                    skb.Drop(DropReason.TransmitError);
                }
                finally
                {
                    _inFlight--;
                }
                return TxResult.Ok;
            }
        }
        """);

    [Fact]
    public Task ReceiveLoopWithContinueAndBreak() => AnalyzeAsync("""
        sealed class Receiver
        {
            public int Poll(NetDevice device, Queue<byte[]> wire, int budget)
            {
                var done = 0;
                while (wire.TryDequeue(out var bytes))
                {
                    var skb = device.AllocSkb();
                    if (bytes.Length > skb.Tailroom)
                    {
                        skb.Drop(DropReason.PacketTooBig);
                        continue;
                    }
                    bytes.CopyTo(skb.Put(bytes.Length));
                    if (bytes.Length >= 14)
                    {
                        skb.Protocol = (ushort)(bytes[12] << 8 | bytes[13]);
                    }
                    device.NetifRx(skb);
                    if (++done == budget)
                    {
                        break;
                    }
                }
                return done;
            }
        }
        """);

    [Fact]
    public Task AsyncReceiveFromAChannel() => AnalyzeAsync("""
        sealed class ChannelReceiver(System.Threading.Channels.Channel<SkBuff> channel)
        {
            public async Task PumpAsync(NetDevice device, System.Threading.CancellationToken cancellation)
            {
                while (await channel.Reader.WaitToReadAsync(cancellation))
                {
                    var skb = await channel.Reader.ReadAsync(cancellation);
                    if (!device.IsUp)
                    {
                        skb.Drop(DropReason.DeviceDown);
                        continue;
                    }
                    device.NetifRx(skb);
                }
            }

            public void Post([TakesOwnership] SkBuff skb)
            {
                if (!channel.Writer.TryWrite(skb))
                {
                    // TryWrite keeps nothing when it fails; the analysis counts the call as storing the frame.
                }
            }
        }
        """);

    [Fact]
    public Task IsLiveGuardInFinally() => AnalyzeAsync("""
        sealed class Careful
        {
            public void Deliver(NetDevice device, SkBuffPool pool, byte[] bytes)
            {
                var skb = pool.Rent();
                try
                {
                    bytes.CopyTo(skb.Put(bytes.Length));
                    device.NetifRx(skb);
                }
                finally
                {
                    if (skb.IsLive)
                    {
                        skb.Drop(DropReason.NotSpecified);
                    }
                }
            }
        }
        """);

    [Fact]
    public Task FactoriesReturnFramesAndOwnersTakeThem() => AnalyzeAsync("""
        sealed class Arp
        {
            public static SkBuff Build(NetDevice device, MacAddress target)
            {
                var skb = device.AllocSkb();
                var frame = skb.Put(42);
                frame.Clear();
                target.GetHashCode();
                skb.Protocol = 0x0806;
                return skb;
            }

            public static SkBuff BuildOrDefault(NetDevice device, bool enabled) =>
                enabled ? Build(device, default) : default;

            public void Announce(NetDevice device, MacAddress target)
            {
                device.NetifRx(Build(device, target));
                var maybe = BuildOrDefault(device, true);
                if (maybe.IsLive)
                {
                    device.NetifRx(maybe);
                }
            }
        }
        """);

    [Fact]
    public Task EncapsulationWithPushPullAndTrim() => AnalyzeAsync("""
        sealed class Tunnel : IDeviceOperations<Tunnel>
        {
            private readonly NetDevice _underlay;

            public Tunnel(NetDevice underlay) => _underlay = underlay;

            public TxResult StartXmit(NetDevice<Tunnel> device, SkBuff skb)
            {
                if (skb.Headroom < 8)
                {
                    skb.Drop(DropReason.PacketTooBig);
                    return TxResult.Ok;
                }
                var header = skb.Push(8);
                header.Clear();
                header[0] = 0x08;
                var outcome = Send(skb);
                return outcome switch
                {
                    true => TxResult.Ok,
                    false => TxResult.Ok,
                };
            }

            private bool Send([TakesOwnership] SkBuff skb)
            {
                if (skb.Length > 1500)
                {
                    skb.Trim(1500);
                }
                skb.Pull(0);
                return _underlay.NetifRx(skb);
            }
        }
        """);

    [Fact]
    public Task DrainingThroughOutParametersAndFields() => AnalyzeAsync("""
        sealed class Backlog
        {
            private readonly Queue<SkBuff> _queue = new();
            private SkBuff _pending;
            private bool _hasPending;

            public void Park([TakesOwnership] SkBuff skb)
            {
                if (_hasPending)
                {
                    _queue.Enqueue(skb);
                    return;
                }
                _pending = skb;
                _hasPending = true;
            }

            public void Flush(NetDevice device)
            {
                if (_hasPending)
                {
                    var skb = _pending;
                    _pending = default;
                    _hasPending = false;
                    device.NetifRx(skb);
                }
                while (_queue.TryDequeue(out var queued))
                {
                    queued.Drop(DropReason.DeviceDown);
                }
            }
        }
        """);

    [Fact]
    public Task ResultDecidedAtRunTimeAndDoWhile() => AnalyzeAsync("""
        sealed class Batching : IDeviceOperations<Batching>
        {
            private readonly List<SkBuff> _batch = new();

            public TxResult StartXmit(NetDevice<Batching> device, SkBuff skb)
            {
                var result = _batch.Count < 64 ? TxResult.Ok : TxResult.Busy;
                if (result == TxResult.Ok)
                {
                    _batch.Add(skb);
                }
                return result;
            }

            public void Flush(NetDevice<Batching> device)
            {
                var index = 0;
                if (_batch.Count == 0)
                {
                    return;
                }
                do
                {
                    var skb = _batch[index];
                    device.CountTx(skb);
                    skb.Consume();
                    index++;
                }
                while (index < _batch.Count);
                _batch.Clear();
            }
        }
        """);

    [Fact]
    public Task CopiesMoveOwnershipToTheNewVariable() => AnalyzeAsync("""
        sealed class Copier
        {
            public void Run(SkBuffPool pool, NetDevice device)
            {
                var skb = pool.Rent();
                var frame = skb;
                frame.Put(60);
                device.NetifRx(frame);
            }
        }
        """);

    [Fact]
    public Task NestedTryFinallyAndUsing() => AnalyzeAsync("""
        sealed class Nested
        {
            public void Run(SkBuffPool pool, NetDevice device, System.IO.Stream stream)
            {
                using var scratch = new System.IO.MemoryStream();
                var skb = pool.Rent();
                try
                {
                    try
                    {
                        stream.ReadExactly(skb.TailroomSpan.Slice(0, 60));
                        skb.Put(60);
                    }
                    finally
                    {
                        scratch.SetLength(0);
                    }
                    device.NetifRx(skb);
                }
                catch (System.IO.EndOfStreamException)
                {
                    pool.Return(skb);
                }
            }
        }
        """);

    [Fact]
    public async Task TheRepositorysDriversAreClean()
    {
        var directory = Path.Combine(AppContext.BaseDirectory, "DriverSources");
        var files = Directory.Exists(directory) ? Directory.GetFiles(directory, "*.cs", SearchOption.AllDirectories) : [];
        Assert.NotEmpty(files);
        var test = new CSharpAnalyzerTest<SkBuffOwnershipAnalyzer, DefaultVerifier>
        {
            // The drivers compile in their own project; here only the analyzer's verdict on them matters.
            CompilerDiagnostics = CompilerDiagnostics.None,
        };
        foreach (var file in files)
        {
            test.TestState.Sources.Add((file, await File.ReadAllTextAsync(file, TestContext.Current.CancellationToken)));
        }
        test.TestState.Sources.Add(("GlobalUsings.cs", """
            global using System;
            global using System.Collections.Generic;
            global using System.IO;
            global using System.Linq;
            global using System.Threading;
            global using System.Threading.Tasks;
            """));
        ConfigureForProjectSources(test);
        await test.RunAsync(TestContext.Current.CancellationToken);
    }
}

/// <summary>Constructs that are easy to get wrong in a flow analysis, written correctly.</summary>
public class TrickyButCorrectTests
{
    [Fact]
    public Task EarlyExitOnADeadHandleThenUse() => AnalyzeAsync("""
        sealed class Guarded
        {
            private SkBuff _slot;

            public void Flush(NetDevice device)
            {
                var skb = System.Threading.Interlocked.Exchange(ref _slot, default);
                if (!skb.IsLive)
                {
                    return;
                }
                skb.Put(0);
                device.NetifRx(skb);
            }
        }
        """);

    [Fact]
    public Task ContainerLookupsLendAndRemovalsGiveOwnership() => AnalyzeAsync("""
        sealed class Lookups
        {
            private readonly Queue<SkBuff> _queue = new();
            private readonly List<SkBuff> _list = new();

            public int Peek() => _queue.Peek().Length + _list[0].Length + _list.Find(s => s.Length > 0).Length;

            public void Drain()
            {
                while (_queue.Count > 0)
                {
                    var skb = _queue.Dequeue();
                    skb.Drop(DropReason.DeviceDown);
                }
                foreach (var skb in _list)
                {
                    skb.Drop(DropReason.DeviceDown);
                }
                _list.Clear();
            }
        }
        """);

    [Fact]
    public Task GotoAndLabels() => AnalyzeAsync("""
        sealed class Retry
        {
            public void Send(SkBuffPool pool, System.IO.Stream stream)
            {
                var attempts = 0;
                var skb = pool.Rent();
            again:
                try
                {
                    stream.Write(skb.Data);
                }
                catch (System.IO.IOException) when (++attempts < 3)
                {
                    goto again;
                }
                catch (System.IO.IOException)
                {
                    skb.Drop(DropReason.TransmitError);
                    return;
                }
                skb.Consume();
            }
        }
        """);

    [Fact]
    public Task InfiniteReceiveLoopWithExitInside() => AnalyzeAsync("""
        sealed class Loop
        {
            public void Run(NetDevice device, Func<int> read)
            {
                while (true)
                {
                    var skb = device.AllocSkb();
                    var length = read();
                    if (length < 0)
                    {
                        skb.Drop(DropReason.NotSpecified);
                        return;
                    }
                    skb.Put(length);
                    device.NetifRx(skb);
                }
            }
        }
        """);

    [Fact]
    public Task RethrowAfterReleasingInCatch() => AnalyzeAsync("""
        sealed class Rethrow
        {
            public void Send(SkBuffPool pool, System.IO.Stream stream)
            {
                var skb = pool.Rent();
                try
                {
                    stream.Write(skb.Data);
                }
                catch (System.IO.IOException)
                {
                    skb.Drop(DropReason.TransmitError);
                    throw;
                }
                skb.Consume();
            }
        }
        """);

    [Fact]
    public Task LambdaWithAnOwningParameterAndStaticLocalFunction() => AnalyzeAsync("""
        sealed class Callbacks
        {
            public Action<SkBuff> Dropper() => ([TakesOwnership] SkBuff skb) => skb.Drop(DropReason.Filtered);

            public void Run(SkBuffPool pool)
            {
                Release(pool.Rent());

                static void Release([TakesOwnership] SkBuff skb) => skb.Consume();
            }
        }
        """);

    [Fact]
    public Task ReturnInsideTryWithFinallyKeepsTheResultApart() => AnalyzeAsync("""
        sealed class Locked : IDeviceOperations<Locked>
        {
            private readonly object _gate = new();
            private int _depth;

            public TxResult StartXmit(NetDevice<Locked> device, SkBuff skb)
            {
                try
                {
                    _depth++;
                    if (_depth > 8)
                    {
                        return TxResult.Busy;
                    }
                    lock (_gate)
                    {
                        skb.Consume();
                    }
                    return TxResult.Ok;
                }
                finally
                {
                    _depth--;
                }
            }
        }
        """);
}
