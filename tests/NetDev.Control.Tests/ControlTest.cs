using NetDev.Drivers.Dummy;
using NetDev.Linux;

namespace NetDev.Control.Tests;

/// <summary>
/// What the control tests share: a network namespace and a control directory of the test's own, removed
/// after it, and dummy devices served there as an owner serves them.
/// </summary>
public abstract class ControlTest : IDisposable
{
    /// <summary>The test's namespace, where its devices are.</summary>
    protected TestNamespace Ns { get; } = new();

    /// <summary>The test's control directory.</summary>
    protected TempDirectory RunDir { get; } = new();

    /// <summary>Endpoint options that put the sockets in <see cref="RunDir"/>.</summary>
    protected ControlServerOptions Options => new() { Directory = RunDir.Path };

    public void Dispose()
    {
        Ns.Dispose();
        RunDir.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>A Linux host that creates its devices in <paramref name="networkNamespace"/>.</summary>
    protected static LinuxHost Host(string networkNamespace) => new(new LinuxHostOptions { NetworkNamespace = networkNamespace });

    /// <summary>A dummy device registered in the test's namespace and up, with its endpoint started as an owner starts it.</summary>
    protected ServedDummy RegisterDummy(string name, int queues = 1)
    {
        var registration = DummyDriver.CreateRegistration(Host(Ns.Name), name, queues);
        try
        {
            registration.Register();
            var server = ControlServer.Start(registration.Device, Options);
            registration.Device.BringUp();
            return new ServedDummy(registration, server);
        }
        catch
        {
            registration.Dispose();
            throw;
        }
    }

    /// <summary>Whether <paramref name="endpoint"/> answers <c>info</c> now.</summary>
    protected static bool TryInfo(ControlEndpoint endpoint)
    {
        try
        {
            using var client = ControlClient.Connect(endpoint);
            client.GetInfo();
            return true;
        }
        catch (ControlException)
        {
            return false;
        }
    }

    /// <summary>A device and its endpoint, removed as an owner removes them: the endpoint first.</summary>
    protected sealed record ServedDummy(Registration<DummyDriver> Registration, ControlServer? Server) : IDisposable
    {
        public NetDevice<DummyDriver> Device => Registration.Device;

        public void Dispose()
        {
            Server?.Dispose();
            Registration.Dispose();
        }
    }
}
