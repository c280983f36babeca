namespace NetDev.Testing.Tests;

/// <summary>A driver call that does not return cannot hold its device's teardown forever.</summary>
public sealed class BoundedTeardownTests
{
    [Fact]
    public void DisposeWithAStartXmitThatDoesNotReturnGivesUpAfterTheStopTimeoutAndSaysSo()
    {
        var host = new TestHost(new TestHostOptions { Threaded = true });
        var driver = new ScriptedDriver();
        using var wedged = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        driver.OnStartXmit = (_, skb) =>
        {
            wedged.Set();
            release.Wait();   // a driver stuck in its hardware
            skb.Consume();
            return TxResult.Ok;
        };
        var registration = new Registration<ScriptedDriver>(host, 1, 1, driver);
        registration.Device.StopTimeout = TimeSpan.FromSeconds(1);
        var errors = new List<Exception>();
        registration.Device.Error += (_, e) =>
        {
            lock (errors)
            {
                errors.Add(e.Exception);
            }
        };
        var link = host.Register(registration);
        registration.Device.BringUp();
        link.InjectTransmit(Frames.Numbered(1)[0]);
        Assert.True(wedged.Wait(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken), "StartXmit was never called");

        var disposer = new Thread(registration.Dispose) { IsBackground = true };
        disposer.Start();

        Assert.True(disposer.Join(TimeSpan.FromSeconds(30)), "teardown waited for the stuck driver");
        lock (errors)
        {
            Assert.Contains(errors, error => error is TimeoutException && error.Message.Contains("a driver call on its thread has not returned", StringComparison.Ordinal));
        }
        Assert.False(registration.IsRegistered);
        release.Set();
    }
}
