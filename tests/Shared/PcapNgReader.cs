using System.Buffers.Binary;
using System.Text;

namespace NetDev.Tests.Shared;

/// <summary>
/// Reads back the pcapng a capture wrote, block by block, as a test checks it: the packets with their direction
/// (from <c>epb_flags</c>), length, bytes and comment, and the statistics block's counters.
/// </summary>
public static class PcapNgReader
{
    public sealed record Packet(string Direction, int Length, byte[] Bytes, string? Comment);

    public sealed record Capture(uint[] BlockTypes, IReadOnlyList<Packet> Packets, IReadOnlyDictionary<ushort, ulong> Statistics);

    public static Capture Parse(ReadOnlySpan<byte> file)
    {
        var types = new List<uint>();
        var packets = new List<Packet>();
        var statistics = new Dictionary<ushort, ulong>();
        while (file.Length >= 12)
        {
            var type = BinaryPrimitives.ReadUInt32LittleEndian(file);
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(file[4..]);
            Assert.Equal((uint)length, BinaryPrimitives.ReadUInt32LittleEndian(file[(length - 4)..]));
            var block = file[..length];
            types.Add(type);
            if (type == 6)
            {
                var captured = (int)BinaryPrimitives.ReadUInt32LittleEndian(block[20..]);
                var original = (int)BinaryPrimitives.ReadUInt32LittleEndian(block[24..]);
                var bytes = block.Slice(28, captured).ToArray();
                string? direction = null;
                string? comment = null;
                foreach (var (code, value) in Options(block[(28 + ((captured + 3) & ~3))..^4]))
                {
                    if (code == 2)
                    {
                        direction = (BinaryPrimitives.ReadUInt32LittleEndian(value) & 3) switch { 1 => "in", 2 => "out", _ => "?" };
                    }
                    else if (code == 1)
                    {
                        comment = Encoding.UTF8.GetString(value);
                    }
                }
                packets.Add(new Packet(direction ?? "?", original, bytes, comment));
            }
            else if (type == 5)
            {
                foreach (var (code, value) in Options(block[20..^4]))
                {
                    statistics[code] = BinaryPrimitives.ReadUInt64LittleEndian(value);
                }
            }
            file = file[length..];
        }
        Assert.True(file.IsEmpty, "the capture ends on a block boundary");
        return new Capture([.. types], packets, statistics);
    }

    private static List<(ushort Code, byte[] Value)> Options(ReadOnlySpan<byte> options)
    {
        var found = new List<(ushort, byte[])>();
        while (options.Length >= 4)
        {
            var code = BinaryPrimitives.ReadUInt16LittleEndian(options);
            var length = BinaryPrimitives.ReadUInt16LittleEndian(options[2..]);
            if (code == 0)
            {
                break;
            }
            found.Add((code, options.Slice(4, length).ToArray()));
            options = options[(4 + ((length + 3) & ~3))..];
        }
        return found;
    }
}
