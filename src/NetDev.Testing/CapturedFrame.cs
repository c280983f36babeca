using System.Buffers.Binary;

namespace NetDev.Testing;

/// <summary>A frame a driver handed to the system, copied when it was delivered.</summary>
/// <param name="Sequence">Its position among all frames delivered on the link, from 0.</param>
/// <param name="Queue">The queue it was delivered on.</param>
/// <param name="Data">The frame's bytes, from the Ethernet header on.</param>
/// <param name="Protocol">The <see cref="SkBuff.Protocol"/> the driver set.</param>
public sealed record CapturedFrame(long Sequence, int Queue, byte[] Data, ushort Protocol)
{
    /// <summary>The destination address of the frame.</summary>
    public MacAddress Destination => MacAddress.FromBytes(Data);

    /// <summary>The source address of the frame.</summary>
    public MacAddress Source => MacAddress.FromBytes(Data.AsSpan(MacAddress.Length));

    /// <summary>The EtherType in the frame's header.</summary>
    public ushort EtherType => BinaryPrimitives.ReadUInt16BigEndian(Data.AsSpan(2 * MacAddress.Length));

    /// <summary>The bytes after the Ethernet header.</summary>
    public ReadOnlySpan<byte> Payload => Data.AsSpan(NetDevice.EthernetHeaderLength);
}

/// <summary>Decides whether the system takes a frame a driver delivers; see <see cref="TestLink.ReceivePolicy"/>.</summary>
/// <param name="queue">The queue the frame is delivered on.</param>
/// <param name="frame">The frame's bytes.</param>
/// <returns><see langword="null"/> to take the frame, otherwise why the system refuses it.</returns>
public delegate DropReason? ReceivePolicy(int queue, ReadOnlySpan<byte> frame);
