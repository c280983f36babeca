using Microsoft.Extensions.Logging;

namespace NetDev.Testing.Tests;

/// <summary>
/// Failures nobody can be told about: a handler that throws on a framework thread, a driver failing at line
/// rate. The framework's threads go on, every error is counted, and the log stays bounded.
/// </summary>
public sealed class FailureHandlingTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AnErrorHandlerThatThrowsDoesNotStopTheQueue(bool threaded)
    {
        var host = new TestHost(new TestHostOptions { Threaded = threaded });
        var driver = new ScriptedDriver();
        var failNext = true;
        driver.OnStartXmit = (device, skb) =>
        {
            if (failNext)
            {
                failNext = false;
                throw new InvalidOperationException("the ring is broken");
            }
            device.CountTx(skb);
            skb.Consume();
            return TxResult.Ok;
        };
        using var registration = new Registration<ScriptedDriver>(host, 1, 1, driver);
        registration.Device.Error += (_, _) => throw new InvalidOperationException("a careless handler");
        var link = host.Register(registration);
        registration.Device.BringUp();

        link.InjectTransmit(Frames.Numbered(1)[0]);
        link.InjectTransmit(Frames.Numbered(2)[1]);
        link.Pump();

        Assert.Equal(1, registration.Device.GetStats().TxPackets);
        Assert.Equal(1, registration.Device.ErrorCount);
        Assert.Equal(DeviceHealth.Healthy, registration.Device.Health);
    }

    [Fact]
    public void AChangeRejectedHandlerThatThrowsDoesNotStopLaterChangesReachingTheDriver()
    {
        var host = new TestHost();
        var driver = new ScriptedDriver { OnChangeMtu = (_, _) => throw new InvalidOperationException("this hardware keeps 1500") };
        var stopped = 0;
        driver.OnStop = _ => stopped++;
        using var registration = new Registration<ScriptedDriver>(host, 1, 1, driver);
        registration.Device.MaxMtu = 9000;
        registration.Device.ChangeRejected += (_, _) => throw new InvalidOperationException("a careless handler");
        var link = host.Register(registration);
        registration.Device.BringUp();

        link.IpLinkSetMtu(9000);   // rejected; the handler throws on the host's event thread
        link.IpLinkSetDown();

        Assert.Equal(1500, registration.Device.Mtu);
        Assert.Equal(1500, link.Mtu);
        Assert.Equal(1, stopped);
        Assert.False(registration.Device.IsUp);
    }

    [Fact]
    public void ErrorsAtLineRateAreAllCountedButLoggedAtABoundedRate()
    {
        var host = new TestHost(new TestHostOptions { CaptureReceivedFrames = false });
        var driver = new ScriptedDriver { OnStartXmit = (_, _) => throw new InvalidOperationException("the ring is broken") };
        var log = new CapturingLoggerFactory();
        using var registration = new Registration<ScriptedDriver>(host, 1, 1, driver, log);
        var errors = 0;
        registration.Device.Error += (_, _) => errors++;
        var link = host.Register(registration);
        registration.Device.BringUp();

        foreach (var frame in Frames.Numbered(1000))
        {
            link.InjectTransmit(frame);
        }

        Assert.Equal(1000, registration.Device.ErrorCount);
        Assert.Equal(1000, errors);
        Assert.Equal(1000, registration.Device.Queues[0].TxErrors);
        Assert.InRange(log.Count(LogLevel.Error), 1, 20);
        Assert.Contains("the ring is broken", registration.Device.LastError!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ATxTimeoutThatThrowsIsCalledAgainAfterAnotherTimeoutWhileTheQueueStaysStopped()
    {
        var host = new TestHost();
        var driver = new ScriptedDriver();
        var timeouts = 0;
        driver.OnStartXmit = (device, skb) =>
        {
            skb.Consume();
            device.StopQueue(0);   // a ring that never drains by itself
            return TxResult.Ok;
        };
        driver.OnTxTimeout = (device, queue) =>
        {
            if (++timeouts == 1)
            {
                throw new InvalidOperationException("the reset failed");
            }
            device.WakeQueue(queue);   // the second reset works
        };
        using var registration = new Registration<ScriptedDriver>(host, 1, 1, driver);
        registration.Device.WatchdogTimeout = TimeSpan.FromSeconds(1);
        var link = host.Register(registration);
        registration.Device.BringUp();
        link.InjectTransmit(Frames.Numbered(1)[0]);

        host.Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, timeouts);
        Assert.True(registration.Device.Queues[0].IsStopped);
        host.Clock.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(2, timeouts);
        Assert.False(registration.Device.Queues[0].IsStopped);
        Assert.Equal(2, registration.Device.Queues[0].Timeouts);
    }

    /// <summary>Keeps every log entry's level and message.</summary>
    private sealed class CapturingLoggerFactory : ILoggerFactory
    {
        private readonly List<(LogLevel Level, string Message)> _entries = [];

        public int Count(LogLevel level)
        {
            lock (_entries)
            {
                return _entries.Count(entry => entry.Level == level);
            }
        }

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }

        private sealed class Logger(CapturingLoggerFactory factory) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                lock (factory._entries)
                {
                    factory._entries.Add((logLevel, formatter(state, exception)));
                }
            }
        }
    }
}
