using NetDev.Drivers.Tunnel;

namespace NetDev.Drivers.Tests;

public sealed class TunnelHeaderTests
{
    [Fact]
    public void TheEthernetHeaderIsTheDocumentedFourBytes()
    {
        var bytes = new byte[6];
        TunnelHeader.Ethernet.WriteTo(bytes);
        // docs/tunnel.md: 'N' 'D', version 1, type 0; the rest is untouched.
        Assert.Equal(new byte[] { 0x4E, 0x44, 0x01, 0x00, 0x00, 0x00 }, bytes);
        Assert.Equal(4, TunnelHeader.Length);
    }

    [Fact]
    public void FieldsAreWrittenBigEndianAndReadBack()
    {
        var header = new TunnelHeader(0xA1B2, 7, (TunnelPayloadType)9);
        var bytes = new byte[TunnelHeader.Length];
        header.WriteTo(bytes);
        Assert.Equal(new byte[] { 0xA1, 0xB2, 7, 9 }, bytes);
        Assert.True(TunnelHeader.TryRead(bytes, out var read));
        Assert.Equal(header, read);
    }

    [Fact]
    public void EveryHeaderRoundTrips()
    {
        var bytes = new byte[TunnelHeader.Length];
        foreach (var magic in new ushort[] { 0, 1, 0x4E44, 0x444E, 0xFFFF })
        {
            for (var version = 0; version < 256; version += 51)
            {
                for (var type = 0; type < 256; type += 85)
                {
                    var header = new TunnelHeader(magic, (byte)version, (TunnelPayloadType)type);
                    header.WriteTo(bytes);
                    Assert.True(TunnelHeader.TryRead(bytes, out var read));
                    Assert.Equal(header, read);
                }
            }
        }
    }

    [Fact]
    public void ReadingTakesOnlyTheFirstFourBytes()
    {
        byte[] datagram = [0x4E, 0x44, 0x01, 0x00, 0xFF, 0xEE];
        Assert.True(TunnelHeader.TryRead(datagram, out var header));
        Assert.Equal(TunnelHeader.Ethernet, header);
    }

    [Fact]
    public void WritingIntoTooSmallASpanThrowsAndWritesNothing()
    {
        var bytes = new byte[3];
        Assert.Throws<ArgumentException>(() => TunnelHeader.Ethernet.WriteTo(bytes));
        Assert.Equal(new byte[3], bytes);
    }

    [Theory]
    [InlineData(new byte[0], TunnelHeaderStatus.TooShort)]
    [InlineData(new byte[] { 0x4E }, TunnelHeaderStatus.TooShort)]
    [InlineData(new byte[] { 0x4E, 0x44, 0x01 }, TunnelHeaderStatus.TooShort)]
    [InlineData(new byte[] { 0x4E, 0x44, 0x01, 0x00 }, TunnelHeaderStatus.Valid)]
    [InlineData(new byte[] { 0x4E, 0x44, 0x01, 0x00, 0x12, 0x34 }, TunnelHeaderStatus.Valid)]
    [InlineData(new byte[] { 0x44, 0x4E, 0x01, 0x00 }, TunnelHeaderStatus.BadMagic)]
    [InlineData(new byte[] { 0x00, 0x00, 0x01, 0x00 }, TunnelHeaderStatus.BadMagic)]
    [InlineData(new byte[] { 0x4E, 0x44, 0x00, 0x00 }, TunnelHeaderStatus.UnsupportedVersion)]
    [InlineData(new byte[] { 0x4E, 0x44, 0x02, 0x00 }, TunnelHeaderStatus.UnsupportedVersion)]
    [InlineData(new byte[] { 0x4E, 0x44, 0xFF, 0x00 }, TunnelHeaderStatus.UnsupportedVersion)]
    [InlineData(new byte[] { 0x4E, 0x44, 0x01, 0x01 }, TunnelHeaderStatus.UnknownType)]
    [InlineData(new byte[] { 0x4E, 0x44, 0x01, 0xFF }, TunnelHeaderStatus.UnknownType)]
    // The first fault counts: magic before version before type.
    [InlineData(new byte[] { 0x00, 0x44, 0x02, 0x05 }, TunnelHeaderStatus.BadMagic)]
    [InlineData(new byte[] { 0x4E, 0x44, 0x02, 0x05 }, TunnelHeaderStatus.UnsupportedVersion)]
    public void CheckJudgesTheFirstFault(byte[] datagram, TunnelHeaderStatus expected)
    {
        Assert.Equal(expected, TunnelHeader.Check(datagram));
    }

    [Fact]
    public void TooShortDatagramsHaveNoHeaderToRead()
    {
        Assert.False(TunnelHeader.TryRead([0x4E, 0x44, 0x01], out var header));
        Assert.Equal(default, header);
    }

    [Fact]
    public void TheTextNamesEveryField()
    {
        Assert.Equal("magic=0x4E44 version=1 type=Ethernet", TunnelHeader.Ethernet.ToString());
    }
}
