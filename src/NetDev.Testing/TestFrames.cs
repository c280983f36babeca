using System.Buffers.Binary;

namespace NetDev.Testing;

/// <summary>Builds Ethernet frames for tests.</summary>
public static class TestFrames
{
    /// <summary>An EtherType reserved for local experiments (IEEE 802 "Local Experimental Ethertype 1").</summary>
    public const ushort ExperimentalEtherType = 0x88B5;

    /// <summary>An Ethernet frame: destination, source, EtherType, then <paramref name="payload"/>.</summary>
    public static byte[] Ethernet(MacAddress destination, MacAddress source, ushort etherType, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[NetDevice.EthernetHeaderLength + payload.Length];
        destination.CopyTo(frame);
        source.CopyTo(frame.AsSpan(MacAddress.Length));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2 * MacAddress.Length), etherType);
        payload.CopyTo(frame.AsSpan(NetDevice.EthernetHeaderLength));
        return frame;
    }

    /// <summary>
    /// A broadcast frame of <see cref="ExperimentalEtherType"/> whose payload is <paramref name="payloadLength"/>
    /// bytes counting up from <paramref name="seed"/>, so frames are told apart by their seed.
    /// </summary>
    public static byte[] Numbered(int seed, int payloadLength = 46, MacAddress? source = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(payloadLength);
        var payload = new byte[payloadLength];
        for (var i = 0; i < payload.Length; i++)
        {
            payload[i] = unchecked((byte)(seed + i));
        }
        return Ethernet(MacAddress.Broadcast, source ?? MacAddress.Parse("02:00:00:00:00:01"), ExperimentalEtherType, payload);
    }
}
