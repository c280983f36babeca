using System.Reflection;
using NetDev.Tests.Fakes;

namespace NetDev.Tests.Devices;

/// <summary>
/// The HAS_* table: which optional operations a driver type implements, found once per type. The
/// framework calls an optional operation only when its flag is set; a driver with only StartXmit working
/// end to end is in <see cref="TransmitTests"/>.
/// </summary>
public sealed class DeviceOperationsTableTests
{
    [Fact]
    public void ADriverWithOnlyStartXmitHasNoOptionalOperation()
    {
        // Every HAS_ flag, including those of operations added later, must be off for this driver.
        var flags = HasFlags<MinimalDriver>();

        Assert.NotEmpty(flags);
        Assert.All(flags, flag => Assert.False(flag.Value, flag.Key));
        Assert.Equal("StartXmit", DeviceOperationDispatcher<MinimalDriver>.Describe());
    }

    [Fact]
    public void ADriverHasExactlyTheOperationsItImplements()
    {
        var implemented = new[] { "HasInit", "HasUninit", "HasOpen", "HasStop", "HasChangeMtu", "HasSetMacAddress" };

        Assert.All(HasFlags<RecordingDriver>(), flag => Assert.Equal(implemented.Contains(flag.Key), flag.Value));
        Assert.Equal("Init, Uninit, Open, Stop, ChangeMtu, SetMacAddress, StartXmit", DeviceOperationDispatcher<RecordingDriver>.Describe());
    }

    [Fact]
    public void ADriverImplementingSomeOperationsHasExactlyThose()
    {
        Assert.False(DeviceOperationDispatcher<AsyncDisposableDriver>.HasInit);
        Assert.True(DeviceOperationDispatcher<AsyncDisposableDriver>.HasUninit);
        Assert.False(DeviceOperationDispatcher<AsyncDisposableDriver>.HasOpen);
        Assert.True(DeviceOperationDispatcher<AsyncDisposableDriver>.HasStop);
        Assert.Equal("Uninit, Stop, StartXmit", DeviceOperationDispatcher<AsyncDisposableDriver>.Describe());
    }

    [Fact]
    public void AnExplicitImplementationCounts()
    {
        Assert.True(DeviceOperationDispatcher<ExplicitOpenDriver>.HasOpen);
        Assert.False(DeviceOperationDispatcher<ExplicitOpenDriver>.HasStop);

        var driver = new ExplicitOpenDriver();
        using var registration = new Registration<ExplicitOpenDriver>(new FakeHost(), 1, 1, driver);
        registration.Register();
        registration.Device.BringUp();
        Assert.Equal(1, driver.Opened);
    }

    [Fact]
    public void AnInheritedPublicImplementationCounts()
    {
        Assert.True(DeviceOperationDispatcher<InheritedOpenDriver>.HasOpen);
        Assert.Equal("Open, StartXmit", DeviceOperationDispatcher<InheritedOpenDriver>.Describe());
    }

    [Fact]
    public void AMethodWithAnOperationsNameButOtherParametersDoesNotCount()
    {
        Assert.False(DeviceOperationDispatcher<OverloadedOpenDriver>.HasOpen);
        Assert.Equal("StartXmit", DeviceOperationDispatcher<OverloadedOpenDriver>.Describe());
    }

    private static Dictionary<string, bool> HasFlags<TDriver>() where TDriver : class, IDeviceOperations<TDriver> =>
        typeof(DeviceOperationDispatcher<TDriver>)
            .GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(field => field.FieldType == typeof(bool) && field.Name.StartsWith("Has", StringComparison.Ordinal))
            .ToDictionary(field => field.Name, field => (bool)field.GetValue(null)!);

    public sealed class ExplicitOpenDriver : IDeviceOperations<ExplicitOpenDriver>
    {
        public int Opened { get; private set; }

        void IDeviceOperations<ExplicitOpenDriver>.Open(NetDevice<ExplicitOpenDriver> device) => Opened++;

        public TxResult StartXmit(NetDevice<ExplicitOpenDriver> device, SkBuff skb)
        {
            skb.Consume();
            return TxResult.Ok;
        }
    }

    public abstract class OpensOnce<TSelf> where TSelf : OpensOnce<TSelf>, IDeviceOperations<TSelf>
    {
        public int Opened { get; private set; }

        public void Open(NetDevice<TSelf> device) => Opened++;
    }

    public sealed class InheritedOpenDriver : OpensOnce<InheritedOpenDriver>, IDeviceOperations<InheritedOpenDriver>
    {
        public TxResult StartXmit(NetDevice<InheritedOpenDriver> device, SkBuff skb)
        {
            skb.Consume();
            return TxResult.Ok;
        }
    }

    public sealed class OverloadedOpenDriver : IDeviceOperations<OverloadedOpenDriver>
    {
        public int Opened { get; private set; }

        // Not the operation: the operation takes the device.
        public void Open(int times) => Opened += times;

        public TxResult StartXmit(NetDevice<OverloadedOpenDriver> device, SkBuff skb)
        {
            skb.Consume();
            return TxResult.Ok;
        }
    }
}
