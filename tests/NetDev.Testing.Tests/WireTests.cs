namespace NetDev.Testing.Tests;

public sealed class WireTests
{
    [Fact]
    public void WhatOneDriverDeliversIsTransmittedIntoTheOther()
    {
        var host = new TestHost();
        using var reflector = new Registration<ReflectDriver>(host, 1, 1, new ReflectDriver());
        var sinkDriver = new ScriptedDriver();
        using var sink = new Registration<ScriptedDriver>(host, 1, 1, sinkDriver);
        var a = host.Register(reflector);
        var b = host.Register(sink);
        reflector.Device.BringUp();
        sink.Device.BringUp();
        using var wire = host.Connect(a, b);
        var frames = Frames.Numbered(3);

        foreach (var frame in frames)
        {
            a.InjectTransmit(frame);
        }

        // Sent into A, reflected by A's driver to A's system, forwarded by the wire into B's driver.
        Assert.Equal(frames, a.Received.Select(f => f.Data));
        Assert.Equal(frames, sinkDriver.Frames.Select(f => f.Data));
        Assert.Equal((3L, 0L, 0L), (wire.ForwardedFromFirst, wire.ForwardedFromSecond, wire.NotForwarded));
        Assert.Same(wire, a.Wire);
    }

    [Fact]
    public void NothingIsForwardedToALinkThatIsDownOrAfterTheWireIsGone()
    {
        var host = new TestHost();
        using var reflector = new Registration<ReflectDriver>(host, 1, 1, new ReflectDriver());
        var sinkDriver = new ScriptedDriver();
        using var sink = new Registration<ScriptedDriver>(host, 1, 1, sinkDriver);
        var a = host.Register(reflector);
        var b = host.Register(sink);
        reflector.Device.BringUp();
        var wire = host.Connect(a, b);

        a.InjectTransmit(TestFrames.Numbered(1));
        Assert.Equal(1, wire.NotForwarded);
        sink.Device.BringUp();
        wire.Dispose();
        a.InjectTransmit(TestFrames.Numbered(2));

        Assert.Empty(sinkDriver.Frames);
        Assert.Null(a.Wire);
        Assert.False(wire.IsConnected);
        using var again = host.Connect(a, b);
        Assert.True(again.IsConnected);
    }

    [Fact]
    public void ALinkIsOnOneWireAtATime()
    {
        var host = new TestHost();
        var links = Enumerable.Range(0, 3).Select(_ =>
        {
            var registration = new Registration<SinkDriver>(host, 1, 1, new SinkDriver());
            return host.Register(registration);
        }).ToList();
        using var wire = host.Connect(links[0], links[1]);

        Assert.Throws<InvalidOperationException>(() => host.Connect(links[1], links[2]));
        Assert.Throws<InvalidOperationException>(() => host.Connect(links[2], links[2]));
    }

    [Fact]
    public void TwoReflectorsOnAWireMakeALoopThatTheWireBreaks()
    {
        var host = new TestHost();
        using var first = new Registration<ReflectDriver>(host, 1, 1, new ReflectDriver());
        using var second = new Registration<ReflectDriver>(host, 1, 1, new ReflectDriver());
        var a = host.Register(first);
        var b = host.Register(second);
        first.Device.BringUp();
        second.Device.BringUp();
        using var wire = host.Connect(a, b);

        a.InjectTransmit(TestFrames.Numbered(1));

        Assert.Equal(1, wire.LoopDrops);
        Assert.Equal(TestWire.LoopLimit, wire.ForwardedFromFirst + wire.ForwardedFromSecond);
        // Every frame that went round was released: nothing leaked on either side.
        SkBuffAccounting.AssertNoLeaks(first.Device);
        SkBuffAccounting.AssertNoLeaks(second.Device);
    }
}
