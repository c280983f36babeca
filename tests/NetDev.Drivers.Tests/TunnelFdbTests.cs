using CsCheck;
using NetDev.Drivers.Tunnel;

namespace NetDev.Drivers.Tests;

/// <summary>The tunnel's forwarding database: learning, moving, ageing, its bound, and removal keeping lookups right.</summary>
public sealed class TunnelFdbTests
{
    private static byte[] Mac(int n) => [0x02, 0, (byte)(n >> 24), (byte)(n >> 16), (byte)(n >> 8), (byte)n];

    [Fact]
    public void LearnsMovesAndAgesOut()
    {
        var clock = new ManualClock();
        var fdb = new TunnelFdb(16, TimeSpan.FromSeconds(300), clock);
        Assert.Equal(-1, fdb.Lookup(Mac(1)));
        Assert.Equal(FdbLearnResult.Added, fdb.Learn(Mac(1), 2));
        Assert.Equal(2, fdb.Lookup(Mac(1)));
        Assert.Equal(FdbLearnResult.Refreshed, fdb.Learn(Mac(1), 2));
        Assert.Equal(FdbLearnResult.Moved, fdb.Learn(Mac(1), 0));
        Assert.Equal(0, fdb.Lookup(Mac(1)));
        Assert.Equal(FdbLearnResult.NotUnicast, fdb.Learn([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], 1));
        Assert.Equal(FdbLearnResult.NotUnicast, fdb.Learn([0x01, 0x00, 0x5E, 0, 0, 1], 1));

        clock.Advance(TimeSpan.FromSeconds(301));
        Assert.Equal(-1, fdb.Lookup(Mac(1)));   // aged out for readers at once
        Assert.Equal(1, fdb.Sweep());
        Assert.Equal(0, fdb.Count);
    }

    [Fact]
    public void AFullTableRefusesNewAddressesAndKeepsTheOldOnes()
    {
        var fdb = new TunnelFdb(8);
        for (var i = 0; i < 8; i++)
        {
            Assert.Equal(FdbLearnResult.Added, fdb.Learn(Mac(i), i % 3));
        }
        for (var i = 100; i < 1100; i++)
        {
            Assert.Equal(FdbLearnResult.Full, fdb.Learn(Mac(i), 1));
        }
        Assert.Equal(8, fdb.Count);
        Assert.Equal(1000, fdb.Refused);
        for (var i = 0; i < 8; i++)
        {
            Assert.Equal(i % 3, fdb.Lookup(Mac(i)));
        }
    }

    [Fact]
    public void LookupsAgreeWithADictionaryThroughLearningAndRemoval()
    {
        // Entries learned at random times and swept at random moments: whatever is left must be found, and
        // nothing else (removal by backward shift must not hide an entry behind a hole).
        Gen.Select(Gen.Int[0, 200].Array[1, 300], Gen.Int[0, 3].Array[300]).Sample((addresses, steps) =>
        {
            var clock = new ManualClock();
            var fdb = new TunnelFdb(64, TimeSpan.FromSeconds(10), clock);
            var model = new Dictionary<int, (int Peer, long Seen)>();
            for (var i = 0; i < addresses.Length; i++)
            {
                var address = addresses[i];
                var result = fdb.Learn(Mac(address), address % 7);
                
                if (result != FdbLearnResult.Full)
                {
                    model[address] = (address % 7, clock.GetTimestamp());
                }
                clock.Advance(TimeSpan.FromSeconds(steps[i]));
                if (steps[i] == 3)
                {
                    fdb.Sweep();
                    foreach (var stale in model.Where(kv => clock.GetTimestamp() - kv.Value.Seen > TimeSpan.FromSeconds(10).Ticks).Select(kv => kv.Key).ToList())
                    {
                        model.Remove(stale);
                    }
                    Assert.Equal(model.Count, fdb.Count);
                }

            }
            foreach (var (address, (peer, seen)) in model)
            {
                var expected = clock.GetTimestamp() - seen > TimeSpan.FromSeconds(10).Ticks ? -1 : peer;
                Assert.Equal(expected, fdb.Lookup(Mac(address)));
            }
            for (var other = 300; other < 320; other++)
            {
                Assert.Equal(-1, fdb.Lookup(Mac(other)));
            }
        });
    }

    [Fact]
    public void LookupAndLearningOfKnownAddressesAllocateNothing()
    {
        var fdb = new TunnelFdb();
        for (var i = 0; i < 100; i++)
        {
            fdb.Learn(Mac(i), i % 4);
        }
        var mac = Mac(42);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            fdb.Lookup(mac);
            fdb.Learn(mac, 2);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
