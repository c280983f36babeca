using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using NetDev.Drivers.Dummy;
using NetDev.Linux;

namespace NetDev.Control.Tests;

/// <summary>
/// Whom the control directory belongs to and who may remove what in it: a symbolic link or a directory
/// of someone else's is refused by server and client alike (nothing is created, chmod-ed or removed where
/// it points), and a stale socket is replaced or removed without ever taking a socket that a device bound
/// meanwhile.
/// </summary>
public sealed class ControlDirectoryTrustTests : IDisposable
{
    private const UnixFileMode Open = (UnixFileMode)0b111_101_101;
    private const int Trials = 150;

    private readonly TestNamespace _ns = new();
    private readonly TempDirectory _directory = new();

    public void Dispose()
    {
        _ns.Dispose();
        _directory.Dispose();
    }

    [Fact]
    public void ASymbolicLinkAsTheDirectoryIsRefusedAndWhereItPointsIsLeftAlone()
    {
        var target = Directory.CreateDirectory(Path.Combine(_directory.Path, "target"), Open).FullName;
        File.SetUnixFileMode(target, Open);
        var stale = StaleEndpoint.Stale(ControlEndpoint.For(target, "ghost", null));
        var link = Path.Combine(_directory.Path, "link");
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
        var foreign = Directory.CreateDirectory(Path.Combine(_directory.Path, "foreign"), Open).FullName;
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
        var endpoint = ControlEndpoint.For(_directory.Path, "ndtdt0", null);
        for (var trial = 0; trial < Trials; trial++)
        {
            StaleSocket.Make(endpoint);

            var bound = Together(() => ControlListener.Bind(_directory.Path, endpoint, responder, NullLogger.Instance),
                                 () => ControlListener.Bind(_directory.Path, endpoint, responder, NullLogger.Instance));

            var serving = bound.OfType<ControlListener>().ToList();
            try
            {
                // Two that both think they serve would leave one of them unreachable behind the other's file.
                Assert.Single(serving);
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
    public void RemovingAStaleSocketNeverRemovesOneThatADeviceBoundMeanwhile()
    {
        using var registration = Register("ndtdt0", register: false);
        var responder = new ControlResponder(registration.Device, () => null);
        var endpoint = ControlEndpoint.For(_directory.Path, "ndtdt0", null);
        for (var trial = 0; trial < Trials; trial++)
        {
            StaleSocket.Make(endpoint);

            // The client looks again and again while the device binds, so that it meets every step of the binding.
            var bound = 0;
            var done = Together<object?>(
                () =>
                {
                    try
                    {
                        return ControlListener.Bind(_directory.Path, endpoint, responder, NullLogger.Instance);
                    }
                    finally
                    {
                        Volatile.Write(ref bound, 1);
                    }
                },
                () =>
                {
                    while (Volatile.Read(ref bound) == 0)
                    {
                        ControlClient.ConnectOrRemoveStale(endpoint)?.Dispose();
                    }
                    return null;
                });

            using var listener = Assert.IsType<ControlListener>(done[0]);
            Assert.Null(done[1]);
            AssertServed(endpoint);
        }
    }

    private Registration<DummyDriver> Register(string name, bool register = true)
    {
        var registration = DummyDriver.CreateRegistration(new LinuxHost(new LinuxHostOptions { NetworkNamespace = _ns.Name }), name);
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
