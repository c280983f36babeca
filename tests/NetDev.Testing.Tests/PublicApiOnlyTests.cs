using System.Reflection;
using System.Runtime.CompilerServices;
using NetDev.Hosting;
using NetDev.Linux;

namespace NetDev.Testing.Tests;

/// <summary>
/// NetDev.Testing is a package of its own: it may rely on NetDev's public API only, or it breaks at run time
/// against any other NetDev version. What it needs from the framework is the host-facing API in NetDev.Hosting.
/// </summary>
public sealed class PublicApiOnlyTests
{
    public static TheoryData<string> Libraries => [typeof(NetDevice).Assembly.GetName().Name!, typeof(LinuxHost).Assembly.GetName().Name!, typeof(TestHost).Assembly.GetName().Name!];

    [Theory]
    [MemberData(nameof(Libraries))]
    public void ALibraryGrantsItsInternalsToTestAssembliesOnly(string library)
    {
        var assembly = Assembly.Load(library);
        var granted = assembly.GetCustomAttributes<InternalsVisibleToAttribute>().Select(attribute => attribute.AssemblyName);

        Assert.All(granted, name => Assert.True(name.EndsWith(".Tests", StringComparison.Ordinal) || name == "NetDev.Fuzz",
            $"{library} grants its internals to {name}, which is not a test assembly."));
    }

    [Fact]
    public void ADeviceHasOneOperationLogAtATime()
    {
        var host = new TestHost();
        using var registration = new Registration<SinkDriver>(host, 1, 1, new SinkDriver());
        var first = OperationRecorder.Attach(registration.Device);
        var second = new CountingLog();

        Assert.Throws<InvalidOperationException>(() => registration.Device.AttachOperationLog(second));
        Assert.False(registration.Device.DetachOperationLog(second));

        var link = host.Register(registration);
        registration.Device.BringUp();
        link.InjectTransmit(TestFrames.Numbered(1));
        Assert.Equal(["StartXmit(q0) Ok"], first.Summary());
        Assert.Equal(0, second.Calls);
    }

    [Fact]
    public void ADetachedLogHearsNothingMoreAndAnotherCanTakeItsPlace()
    {
        var host = new TestHost();
        using var registration = new Registration<SinkDriver>(host, 1, 1, new SinkDriver());
        var first = new CountingLog();
        registration.Device.AttachOperationLog(first);
        var link = host.Register(registration);
        registration.Device.BringUp();
        link.InjectTransmit(TestFrames.Numbered(1));

        Assert.True(registration.Device.DetachOperationLog(first));
        var second = new CountingLog();
        registration.Device.AttachOperationLog(second);
        link.InjectTransmit(TestFrames.Numbered(2));

        Assert.Equal(1, first.Calls);
        Assert.Equal(1, second.Calls);
    }

    private sealed class CountingLog : IOperationLog
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public void Record(string operation, int queue, int length, TxResult? result, Exception? error) => Interlocked.Increment(ref _calls);
    }
}
