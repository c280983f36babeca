using System.Buffers.Binary;
using NetDev.Offload;

namespace NetDev.Fuzz;

/// <summary>Frames for the targets: loaded into pooled buffers as a host would, collected, checked for leaks.</summary>
internal static class Frames
{
    /// <summary>Copies <paramref name="bytes"/> into a frame rented from <paramref name="pool"/>.</summary>
    public static SkBuff Load(SkBuffPool pool, ReadOnlySpan<byte> bytes, SkBuffOffload offload = default)
    {
        var skb = pool.Rent(pool.Headroom + Math.Max(bytes.Length, 1));
        bytes.CopyTo(skb.Put(bytes.Length));
        skb.Offload = offload;
        return skb;
    }

    /// <summary>
    /// Fails unless every frame rented from <paramref name="pool"/> since it had <paramref name="outstanding"/>
    /// out was released. A baseline rather than zero: an earlier input that failed (under afl-fuzz, in the
    /// same process) may have left frames out, and must not make every later input fail.
    /// </summary>
    public static void CheckNoneLeaked(SkBuffPool pool, int outstanding, string target) =>
        FuzzFailure.Check(pool.Outstanding == outstanding, $"{target}: {pool.Outstanding - outstanding} frames were never released");

    /// <summary>The IP packet's length as its header says (IPv4 total length, IPv6 40 + payload length).</summary>
    public static int IpLengthField(ReadOnlySpan<byte> frame, FrameLayout layout) => layout.IsIpv6
        ? FrameLayout.Ipv6HeaderLength + BinaryPrimitives.ReadUInt16BigEndian(frame[(layout.NetworkOffset + 4)..])
        : BinaryPrimitives.ReadUInt16BigEndian(frame[(layout.NetworkOffset + 2)..]);
}

/// <summary>A sink that keeps a copy of each frame it is given and releases the frame.</summary>
internal sealed class CollectingSink : IFrameSink
{
    public List<(byte[] Bytes, SkBuffOffload Offload, ushort Protocol)> Frames { get; } = [];

    public void Deliver([TakesOwnership] SkBuff frame)
    {
        Frames.Add((frame.Data.ToArray(), frame.Offload, frame.Protocol));
        frame.Consume();
    }
}
