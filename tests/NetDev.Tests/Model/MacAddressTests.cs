using System.Text.RegularExpressions;
using CsCheck;

namespace NetDev.Tests.Model;

/// <summary>Ethernet addresses: parsing, formatting, and which ones a device may have.</summary>
public sealed partial class MacAddressTests
{
    private static readonly Gen<byte[]> SixBytes = Gen.Byte.Array[MacAddress.Length];

    [GeneratedRegex("^([0-9a-f]{2}:){5}[0-9a-f]{2}$")]
    private static partial Regex IpLinkFormat();

    [Fact]
    public void FormatParseRoundTripsEveryAddress() =>
        SixBytes.Sample(bytes =>
        {
            var mac = MacAddress.FromBytes(bytes);
            var text = mac.ToString();

            Assert.Matches(IpLinkFormat(), text);
            Assert.Equal(mac, MacAddress.Parse(text));
            Assert.Equal(mac, MacAddress.Parse(text.ToUpperInvariant()));
            Assert.Equal(mac, MacAddress.Parse(text.Replace(':', '-')));
            Assert.Equal(bytes, mac.ToArray());
            Assert.Equal(text, $"{mac}");
        }, iter: 2000);

    [Fact]
    public void BytesAreInNetworkOrder() =>
        SixBytes.Sample(bytes =>
        {
            var text = string.Join(':', bytes.Select(b => b.ToString("x2")));

            Assert.Equal(text, MacAddress.FromBytes(bytes).ToString());
            Assert.Equal(bytes, MacAddress.Parse(text).ToArray());
        }, iter: 500);

    [Fact]
    public void ValidityFollowsTheGroupBitAndZero() =>
        SixBytes.Sample(bytes =>
        {
            var mac = MacAddress.FromBytes(bytes);
            var group = (bytes[0] & 0x01) != 0;
            var local = (bytes[0] & 0x02) != 0;
            var zero = bytes.All(b => b == 0);

            Assert.Equal(!group, mac.IsUnicast);
            Assert.Equal(group, mac.IsMulticast);
            Assert.Equal(local, mac.IsLocallyAdministered);
            Assert.Equal(zero, mac.IsZero);
            Assert.Equal(!group && !zero, mac.IsValidDeviceAddress);
        }, iter: 2000);

    [Fact]
    public void EqualityIsByValue() =>
        Gen.Select(SixBytes, SixBytes).Sample((a, b) =>
        {
            var macA = MacAddress.FromBytes(a);
            var macB = MacAddress.FromBytes(b);
            var same = a.AsSpan().SequenceEqual(b);

            Assert.Equal(same, macA == macB);
            Assert.Equal(!same, macA != macB);
            Assert.Equal(same, macA.Equals((object)macB));
            Assert.Equal(macA, MacAddress.FromBytes([.. a]));
            Assert.Equal(macA.GetHashCode(), MacAddress.FromBytes([.. a]).GetHashCode());
        }, iter: 500);

    [Fact]
    public void WellKnownAddresses()
    {
        Assert.Equal("00:00:00:00:00:00", MacAddress.Zero.ToString());
        Assert.True(MacAddress.Zero.IsZero);
        Assert.False(MacAddress.Zero.IsValidDeviceAddress);
        Assert.Equal(default, MacAddress.Zero);

        Assert.Equal("ff:ff:ff:ff:ff:ff", MacAddress.Broadcast.ToString());
        Assert.True(MacAddress.Broadcast.IsMulticast);
        Assert.False(MacAddress.Broadcast.IsValidDeviceAddress);

        Assert.True(MacAddress.Parse("00:16:3e:00:00:01").IsValidDeviceAddress);
        Assert.False(MacAddress.Parse("00:16:3e:00:00:01").IsLocallyAdministered);
        Assert.False(MacAddress.Parse("01:00:5e:7f:ff:fa").IsValidDeviceAddress);
    }

    [Fact]
    public void RandomLocalIsAlwaysAValidLocallyAdministeredUnicastAddress()
    {
        var seen = new HashSet<MacAddress>();
        for (var i = 0; i < 1000; i++)
        {
            var mac = MacAddress.RandomLocal();
            Assert.True(mac.IsValidDeviceAddress);
            Assert.True(mac.IsLocallyAdministered);
            Assert.True(mac.IsUnicast);
            seen.Add(mac);
        }
        // 46 random bits: a repeat among a thousand is a broken generator, not bad luck.
        Assert.Equal(1000, seen.Count);
    }

    [Theory]
    [InlineData("")]
    [InlineData("02:00:00:00:00")]
    [InlineData("02:00:00:00:00:01:")]
    [InlineData("02:00:00:00:00:001")]
    [InlineData("02.00.00.00.00.01")]
    [InlineData("02:00:00:00:00:0g")]
    [InlineData("020000000001")]
    [InlineData("0200:00:00:00:01")]
    [InlineData(" 2:00:00:00:00:01")]
    [InlineData("+2:00:00:00:00:01")]
    [InlineData("02:00:00:00:00:01 ")]
    public void MalformedTextIsNotAnAddress(string text)
    {
        Assert.False(MacAddress.TryParse(text, out var mac));
        Assert.Equal(default, mac);
        var error = Assert.Throws<FormatException>(() => MacAddress.Parse(text));
        Assert.Contains($"'{text}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromBytesNeedsSixBytesAndReadsOnlyThose()
    {
        Assert.Throws<ArgumentException>(() => MacAddress.FromBytes([1, 2, 3, 4, 5]));

        var mac = MacAddress.FromBytes([2, 0, 0, 0, 0, 1, 0xEE, 0xFF]);

        Assert.Equal("02:00:00:00:00:01", mac.ToString());
    }

    [Fact]
    public void CopyToWritesSixBytesAndNoMore()
    {
        var destination = Enumerable.Repeat((byte)0xAA, 8).ToArray();

        MacAddress.Parse("02:01:02:03:04:05").CopyTo(destination);

        Assert.Equal(new byte[] { 2, 1, 2, 3, 4, 5, 0xAA, 0xAA }, destination);
    }

    [Fact]
    public void TryFormatReportsADestinationTooSmall()
    {
        var mac = MacAddress.Parse("02:01:02:03:04:05");
        Span<char> small = stackalloc char[16];
        Span<char> exact = stackalloc char[17];

        Assert.False(mac.TryFormat(small, out var none, default, null));
        Assert.Equal(0, none);
        Assert.True(mac.TryFormat(exact, out var written, default, null));
        Assert.Equal(17, written);
        Assert.Equal("02:01:02:03:04:05", exact.ToString());
    }
}
