using CsCheck;
using NetDev.Offload;

namespace NetDev.Tests.Offload;

/// <summary>The vectorised native-order checksum against the plain big-endian one, at every length and alignment.</summary>
public sealed class ChecksumProperties
{
    [Fact]
    public void TheChecksumAgreesWithThePlainOne() =>
        Gen.Select(Gen.Byte.Array[0, 3000], Gen.Int[0, 7])
            .Sample((bytes, skip) =>
            {
                var data = bytes.AsSpan(Math.Min(skip, bytes.Length));
                Assert.Equal(Reference.Checksum(data), InternetChecksum.Compute(data));
            }, iter: 3000);

    [Fact]
    public void AMessageWithItsChecksumInPlaceIsValid() =>
        Gen.Byte.Array[2, 2000].Sample(bytes =>
        {
            var message = bytes.ToArray();
            // The checksum field at the start: zero it, compute, store big-endian.
            message[0] = 0;
            message[1] = 0;
            var checksum = InternetChecksum.Compute(message);
            message[0] = (byte)(checksum >> 8);
            message[1] = (byte)checksum;
            Assert.True(InternetChecksum.IsValid(message));
            Assert.Equal(0, Reference.Checksum(message));
            message[^1] ^= 1;
            Assert.False(InternetChecksum.IsValid(message));
        }, iter: 2000);

    [Fact]
    public void KnownValues()
    {
        // RFC 1071's example words 0001 f203 f4f5 f6f7 sum to ddf2; the checksum is its complement.
        Assert.Equal(0x220D, InternetChecksum.Compute([0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7]));
        Assert.Equal(0xFFFF, InternetChecksum.Compute([]));
        // An odd last byte is the high byte of a word padded with zero.
        Assert.Equal(unchecked((ushort)~0xAB00), InternetChecksum.Compute([0xAB]));
    }

    [Fact]
    public void PartialChecksumsAreCompletedForTcpAndUdpOverBothIpVersions() =>
        GsoCase.Any.Sample(gso =>
        {
            // The same frames as the segmenter's, as single frames with checksum offload only.
            var frame = gso.Build();
            GsoSegmenterProperties.WritePartialChecksum(gso, frame);
            var pool = new SkBuffPool(128 + frame.Length, 64);
            var skb = GsoSegmenterProperties.Load(gso, frame, pool);
            skb.Offload = gso.Offload with { GsoType = GsoType.None, GsoSize = 0 };

            Assert.Equal(OffloadResult.Done, PartialChecksum.Complete(skb));

            Assert.False(skb.Offload.NeedsChecksum);
            var completed = skb.Data;
            var ip = completed.Slice(gso.LinkLength, gso.NetworkHeaderLength);
            Assert.True(Reference.TransportChecksumIsValid(ip, gso.Ipv6, gso.Udp ? (byte)17 : (byte)6, completed[gso.TransportOffset..]));
            // Only the checksum field changed.
            var field = gso.TransportOffset + (gso.Udp ? 6 : 16);
            Assert.True(completed[..field].SequenceEqual(frame.AsSpan(0, field)) && completed[(field + 2)..].SequenceEqual(frame.AsSpan(field + 2)));
            skb.Consume();
        }, iter: 500, print: gso => gso.ToString());

    [Fact]
    public void CompletionRefusesWhatItCannotDoAndChangesNothing()
    {
        var pool = new SkBuffPool(256, 16);
        var skb = pool.Rent();
        skb.Put(60).Fill(0x11);
        var offload = new SkBuffOffload(true, false, GsoType.None, false, 0, 0, 34, 16);

        skb.Offload = offload with { ChecksumOffset = 26 }; // the field would end at 62 > 60
        Assert.Equal(OffloadResult.Malformed, PartialChecksum.Complete(skb));
        skb.Offload = offload with { ChecksumOffset = 15 };
        Assert.Equal(OffloadResult.Malformed, PartialChecksum.Complete(skb));
        skb.Offload = offload with { GsoType = GsoType.TcpV4, GsoSize = 10 };
        Assert.Equal(OffloadResult.Unsupported, PartialChecksum.Complete(skb));
        Assert.All(skb.Data.ToArray(), b => Assert.Equal(0x11, b));
        Assert.True(skb.Offload.NeedsChecksum);

        // Nothing to do is done at once.
        skb.Offload = default;
        Assert.Equal(OffloadResult.Done, PartialChecksum.Complete(skb));
        Assert.All(skb.Data.ToArray(), b => Assert.Equal(0x11, b));
        skb.Consume();
    }
}
