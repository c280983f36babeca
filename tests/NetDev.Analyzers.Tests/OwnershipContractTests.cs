using System.Reflection;

namespace NetDev.Analyzers.Tests;

/// <summary>
/// The analyzer learns which NetDev calls take a frame from [TakesOwnership] alone; if the attribute
/// went missing from one of these, every caller would be told it leaks the frame it handed over.
/// </summary>
public class OwnershipContractTests
{
    [Theory]
    [InlineData(typeof(NetDevice), nameof(NetDevice.NetifRx))]
    [InlineData(typeof(SkBuffPool), nameof(SkBuffPool.Return))]
    [InlineData(typeof(NetDev.Offload.GroCoalescer), nameof(NetDev.Offload.GroCoalescer.Receive))]
    public void CallsThatTakeAFrameSayItWithTheAttribute(Type type, string method)
    {
        var parameter = type.GetMethod(method, [typeof(SkBuff)])!.GetParameters().Single();

        Assert.NotNull(parameter.GetCustomAttribute<TakesOwnershipAttribute>());
    }

    [Fact]
    public void StartXmitDoesNotCarryTheAttributeBecauseBusyGivesTheFrameBack()
    {
        var startXmit = typeof(IDeviceOperations<>).GetMethod("StartXmit")!;
        var frame = startXmit.GetParameters().Single(p => p.ParameterType == typeof(SkBuff));

        Assert.Null(frame.GetCustomAttribute<TakesOwnershipAttribute>());
    }
}
