using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using NetDev.Drivers.Dummy;

namespace NetDev.Control.Tests;

/// <summary>
/// Whom the control directory belongs to and who may remove what in it: a symbolic link or a directory
/// of someone else's is refused by server and client alike (nothing is created, chmod-ed or removed where
/// it points), and devices that take over one stale socket together leave exactly one serving (the
/// CLI's removal of a stale socket is proved in NetDev.Cli.Tests' ControlAbuseTests, where its unlink can be held).
/// </summary>
public sealed class ControlDirectoryTrustTests : ControlTest
{
    private const UnixFileMode Open = (UnixFileMode)0b111_101_101;
    private const int Trials = 150;

    [Fact]
    public void ASymbolicLinkAsTheDirectoryIsRefusedAndWhereItPointsIsLeftAlone()
    {
        var target = Directory.CreateDirectory(Path.Combine(RunDir.Path, "target"), Open).FullName;
        File.SetUnixFileMode(target, Open);
        var stale = StaleEndpoint.Stale(ControlEndpoint.For(target, "ghost", null));
        var link = Path.Combine(RunDir.Path, "link");
        File.CreateSymbolicLink(link, target);
        using var registration = Register("ndtdt0");

        Assert.Null(ControlServer.Start(registration.Device, new ControlServerOptions { Directory = link }));
        var listing = Assert.ThrowsAny<IOException>(() => ControlDirectory.List(link));

        Assert.Contains("symbolic link", listing.Message);
        Assert.Equal(Open, File.GetUnixFileMode(target));
        Assert.Equal([Path.GetFileName(stale.Path)], Directory.EnumerateFileSystemEntries(target).Select(Path.GetFileName));
    }

    [Fact]
    public void ADirectoryOfSomeoneElsesIsRefused()
    {
        var foreign = Directory.CreateDirectory(Path.Combine(RunDir.Path, "foreign"), Open).FullName;
        File.SetUnixFileMode(foreign, Open);
        var stale = StaleEndpoint.Stale(ControlEndpoint.For(foreign, "ghost", null));
        Shell.Run("chown", "12345:12345", foreign);
        using var registration = Register("ndtdt0");

        Assert.Null(ControlServer.Start(registration.Device, new ControlServerOptions { Directory = foreign }));
        var listing = Assert.ThrowsAny<IOException>(() => ControlDirectory.List(foreign));
        Assert.ThrowsAny<IOException>(() => ControlClient.ConnectOrRemoveStale(stale));

        Assert.Contains("uid 12345", listing.Message);
        Assert.Equal(Open, File.GetUnixFileMode(foreign));
        Assert.Equal([Path.GetFileName(stale.Path)], Directory.EnumerateFileSystemEntries(foreign).Select(Path.GetFileName));
    }

    [Fact]
    public void DevicesTakingOverOneStaleSocketTogetherLeaveExactlyOneServing()
    {
        using var registration = Register("ndtdt0", register: false);
        var responder = new ControlResponder(registration.Device, () => null);
        var endpoint = ControlEndpoint.For(RunDir.Path, "ndtdt0", null);
        for (var trial = 0; trial < Trials; trial++)
        {
            StaleEndpoint.Stale(endpoint);

            var bound = Together(() => ControlListener.Bind(RunDir.Path, endpoint, responder, NullLogger.Instance),
                                 () => ControlListener.Bind(RunDir.Path, endpoint, responder, NullLogger.Instance));

            var serving = bound.OfType<ControlListener>().ToList();
            try
            {
                // Two that both think they serve would leave one of them unreachable behind the other's file.
                Assert.True(serving.Count == 1, $"trial {trial}: {serving.Count} serving; {string.Join(" | ", bound.OfType<Exception>().Select(e => e.GetType().Name + ": " + e.Message))}");
                Assert.IsType<IOException>(Assert.Single(bound.OfType<Exception>()));
                AssertServed(endpoint);
            }
            finally
            {
                serving.ForEach(listener => listener.Dispose());
            }
            Assert.False(File.Exists(endpoint.Path));
        }
    }

    [Fact]
    public void ALockAnotherProcessDoesNotLetGoOfEndsInAClearErrorAndATeardownThatGoesOn()
    {
        using var registration = Register("ndtdt0", register: false);
        var responder = new ControlResponder(registration.Device, () => null);
        var endpoint = ControlEndpoint.For(RunDir.Path, "ndtdt0", null);
        var options = new ControlServerOptions { LockTimeout = TimeSpan.FromSeconds(1.5) };
        var log = new FakeLogger();
        var listener = ControlListener.Bind(RunDir.Path, endpoint, responder, log, options);
        // Another open of the directory is another holder to flock, as a second process would be.
        using var stuck = DirectoryHandle.Open(RunDir.Path);
        var held = stuck.Lock(options.LockTimeout);
        try
        {
            var bind = Assert.Throws<IOException>(() =>
                ControlListener.Bind(RunDir.Path, ControlEndpoint.For(RunDir.Path, "ndtdt1", null), responder, log, options));
            Assert.Contains("held its lock", bind.Message);
            // Without the lock it may not remove its socket file: it closes and leaves the file to be taken over.
            listener.Dispose();
            Assert.True(File.Exists(endpoint.Path));
            var messages = log.Collector.GetSnapshot().Select(record => record.Message).ToList();
            Assert.Contains(messages, message => message.Contains("waiting for the lock on", StringComparison.Ordinal));
            Assert.Contains(messages, message => message.Contains("could not remove", StringComparison.Ordinal));
        }
        finally
        {
            held.Dispose();
            listener.Dispose();
        }
        using var next = ControlListener.Bind(RunDir.Path, endpoint, responder, NullLogger.Instance, options);
        AssertServed(endpoint);
    }

    private Registration<DummyDriver> Register(string name, bool register = true)
    {
        var registration = DummyDriver.CreateRegistration(Host(Ns.Name), name);
        if (register)
        {
            registration.Register();
        }
        return registration;
    }

    /// <summary>Runs <paramref name="first"/> and <paramref name="second"/> on two threads released at once; each gives its result or what it threw.</summary>
    private static object?[] Together<T>(Func<T> first, Func<T> second)
    {
        using var start = new Barrier(2);
        object? Run(Func<T> action)
        {
            start.SignalAndWait();
            try
            {
                return action();
            }
            catch (Exception error)
            {
                return error;
            }
        }
        var other = Task.Factory.StartNew(() => Run(second), TaskCreationOptions.LongRunning);
        var mine = Run(first);
        return [mine, other.GetAwaiter().GetResult()];
    }

    private static void AssertServed(ControlEndpoint endpoint)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        probe.Connect(new UnixDomainSocketEndPoint(endpoint.Path));
    }
}
