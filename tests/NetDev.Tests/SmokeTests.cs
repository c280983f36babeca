namespace NetDev.Tests;

public class MacAddressTests
{
    [Fact]
    public void RandomLocalIsValidLocallyAdministeredUnicast()
    {
        var mac = MacAddress.RandomLocal();
        Assert.True(mac.IsValidDeviceAddress);
        Assert.True(mac.IsLocallyAdministered);
        Assert.Equal(mac, MacAddress.Parse(mac.ToString()));
    }
}
