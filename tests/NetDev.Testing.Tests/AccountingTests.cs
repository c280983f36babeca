namespace NetDev.Testing.Tests;

public sealed class AccountingTests
{
    [Fact]
    public void AWellBehavedDriverLeavesTheHostClean()
    {
        var host = new TestHost();
        var registration = new Registration<ReflectDriver>(host, 2, 2, new ReflectDriver());
        var link = host.Register(registration);
        registration.Device.BringUp();
        foreach (var (frame, i) in Frames.Numbered(20).Select((f, i) => (f, i)))
        {
            link.InjectTransmit(i % 2, frame);
        }

        registration.Dispose();

        host.AssertClean();
        SkBuffAccounting.AssertNoLeaks(registration);
        var accounts = SkBuffAccounting.Of(registration.Device);
        Assert.Equal(40, accounts.Sum(a => a.Released));   // 20 sent, 20 reflected
        Assert.Equal(["tx queue 0", "rx queue 0", "tx queue 1", "rx queue 1"], accounts.Select(a => a.Pool));
        Assert.All(accounts, a => Assert.Equal((10L, 0), (a.Consumed, a.Outstanding)));
    }

    [Fact]
    public void AFrameTheDriverNeverReleasesIsFoundAsALeakAtTeardown()
    {
        var host = new TestHost();
        var kept = new List<SkBuff>();
        var driver = new ScriptedDriver
        {
            OnStartXmit = (_, skb) =>
            {
                kept.Add(skb);   // "released later", and then forgotten
                return TxResult.Ok;
            },
        };
        var registration = new Registration<ScriptedDriver>(host, 1, 1, driver);
        var link = host.Register(registration);
        registration.Device.BringUp();
        link.InjectTransmit(TestFrames.Numbered(1));
        link.InjectTransmit(TestFrames.Numbered(2));

        Assert.Throws<NetDevAssertionException>(() => SkBuffAccounting.AssertNoLeaks(registration.Device));
        registration.Dispose();

        var failure = Assert.Throws<NetDevAssertionException>(host.AssertClean);
        Assert.Contains("2 SkBuff(s) never released", failure.Message);
        Assert.Throws<NetDevAssertionException>(() => SkBuffAccounting.AssertNoLeaks(registration));
        Assert.Single(registration.Leaks);
    }

    [Fact]
    public void AReceiveBufferTheDriverNeverHandsOverIsALeakToo()
    {
        var host = new TestHost();
        var registration = new Registration<SinkDriver>(host, 1, 1, new SinkDriver());
        host.Register(registration);
        registration.Device.AllocSkb(0);   // taken for a frame that never came

        registration.Dispose();

        // The registration's own report covers the transmit pools; the check covers the receive pools as well.
        var failure = Assert.Throws<NetDevAssertionException>(() => SkBuffAccounting.AssertNoLeaks(registration));
        Assert.Contains("rx queue 0", failure.Message);
    }

    [Fact]
    public void AFrameReleasedTwiceIsReportedAsADeviceError()
    {
        var host = new TestHost();
        var driver = new ScriptedDriver
        {
            OnStartXmit = (_, skb) =>
            {
                skb.Consume();
                skb.Consume();
                return TxResult.Ok;
            },
        };
        using var registration = new Registration<ScriptedDriver>(host, 1, 1, driver);
        var link = host.Register(registration);
        registration.Device.BringUp();

        link.InjectTransmit(TestFrames.Numbered(1));

        var error = Assert.Single(link.Errors);
        var misuse = Assert.IsType<SkBuffMisuseException>(error.InnerException);
        Assert.Equal(SkBuffMisuse.DoubleRelease, misuse.Misuse);
        Assert.Throws<NetDevAssertionException>(host.AssertClean);
    }

    [Fact]
    public void DropsAreAccountedPerReason()
    {
        var host = new TestHost();
        var driver = new ScriptedDriver
        {
            OnStartXmit = (_, skb) =>
            {
                skb.Drop(skb.Length > 100 ? DropReason.PacketTooBig : DropReason.Filtered);
                return TxResult.Ok;
            },
        };
        using var registration = new Registration<ScriptedDriver>(host, 1, 1, driver);
        var link = host.Register(registration);
        registration.Device.BringUp();

        link.InjectTransmit(TestFrames.Numbered(1, payloadLength: 50));
        link.InjectTransmit(TestFrames.Numbered(2, payloadLength: 500));
        link.InjectTransmit(TestFrames.Numbered(3, payloadLength: 500));

        var account = SkBuffAccounting.Of(registration.Device)[0];
        Assert.Equal(new Dictionary<DropReason, long> { [DropReason.Filtered] = 1, [DropReason.PacketTooBig] = 2 }, account.DropsByReason);
        Assert.Equal((3L, 0L), (account.Dropped, account.Consumed));
    }
}
