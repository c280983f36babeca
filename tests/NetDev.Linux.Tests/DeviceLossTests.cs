using System.Collections.Concurrent;

namespace NetDev.Linux.Tests;

/// <summary>
/// A device whose interface is removed from outside hears it as one condition, ENODEV, whichever of its
/// threads notices first; and it can still be disposed cleanly afterwards.
/// </summary>
public sealed class DeviceLossTests
{
    [Fact]
    public void IpLinkDelIsReportedAsEnodevAndTheDeviceStillDisposesCleanly()
    {
        using var ns = new TestNamespace();
        var (registration, errors) = Register(ns, "ndgone0");
        registration.Device.BringUp();

        ns.Ip("link del ndgone0");

        Wait.Until(() => !errors.IsEmpty, "the device reports the deletion");
        Assert.All(errors, error => Assert.Equal(Errno.ENODEV, Assert.IsType<NetDevException>(error).Errno));
        Assert.Contains(errors, error => ((NetDevException)error).Description == "the interface was deleted by someone else");
        // Bringing down and removing what is gone is not an error.
        registration.Device.BringDown();
        registration.Dispose();
    }

    [Fact]
    public void IpNetnsDelOfTheDevicesNamespaceIsReportedAsEnodev()
    {
        using var ns = new TestNamespace();
        var (registration, errors) = Register(ns, "ndgone1");

        // The device's sockets keep the namespace alive, so the kernel says nothing: only its name goes.
        Shell.Run("ip", $"netns del {ns.Name}");

        Wait.Until(() => !errors.IsEmpty, "the device reports that its namespace was deleted");
        var error = Assert.IsType<NetDevException>(Assert.Single(errors));
        Assert.Equal(Errno.ENODEV, error.Errno);
        Assert.Contains(ns.Name, error.Description);
        registration.Dispose();
    }

    /// <summary>A registered device in <paramref name="ns"/> and the errors it reports from then on.</summary>
    private static (Registration<RecordingDriver> Registration, ConcurrentQueue<Exception> Errors) Register(TestNamespace ns, string name)
    {
        var errors = new ConcurrentQueue<Exception>();
        var registration = new Registration<RecordingDriver>(ns.Host, 1, 1, new RecordingDriver());
        registration.Device.Name = name;
        registration.Device.Error += (_, e) => errors.Enqueue(e.Exception);
        registration.Register();
        return (registration, errors);
    }
}
