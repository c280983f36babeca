using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;

namespace NetDev;

/// <summary>A 48-bit Ethernet (MAC) address, a value type that costs no allocation.</summary>
public readonly struct MacAddress : IEquatable<MacAddress>, ISpanFormattable
{
    /// <summary>The length of an Ethernet address in bytes (<c>ETH_ALEN</c>).</summary>
    public const int Length = 6;

    private readonly ulong _value; // the six bytes in network order, in the low 48 bits

    private MacAddress(ulong value) => _value = value & 0xFFFF_FFFF_FFFFUL;

    /// <summary>The all-zero address, which is never a valid device address.</summary>
    public static MacAddress Zero => default;

    /// <summary>The broadcast address <c>ff:ff:ff:ff:ff:ff</c>.</summary>
    public static MacAddress Broadcast => new(0xFFFF_FFFF_FFFFUL);

    /// <summary>Reads an address from the first six bytes of <paramref name="bytes"/>.</summary>
    /// <exception cref="ArgumentException">Fewer than six bytes were given.</exception>
    public static MacAddress FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < Length)
        {
            throw new ArgumentException($"A MAC address needs {Length} bytes; {bytes.Length} were given.", nameof(bytes));
        }
        Span<byte> wide = stackalloc byte[8];
        wide.Clear();
        bytes[..Length].CopyTo(wide[2..]);
        return new MacAddress(BinaryPrimitives.ReadUInt64BigEndian(wide));
    }

    /// <summary>
    /// A random unicast address with the locally administered bit set, as the kernel's
    /// <c>eth_random_addr</c>: it can never collide with a vendor-assigned address.
    /// </summary>
    public static MacAddress RandomLocal()
    {
        Span<byte> bytes = stackalloc byte[Length];
        RandomNumberGenerator.Fill(bytes);
        bytes[0] = (byte)((bytes[0] & 0xFE) | 0x02);
        return FromBytes(bytes);
    }

    /// <summary>Parses <c>aa:bb:cc:dd:ee:ff</c> (or with <c>-</c> as separator).</summary>
    /// <exception cref="FormatException">The text is not a MAC address.</exception>
    public static MacAddress Parse(string text) =>
        TryParse(text, out var mac) ? mac : throw new FormatException($"'{text}' is not a MAC address (expected six hex bytes such as 02:00:00:00:00:01).");

    /// <summary>Parses <c>aa:bb:cc:dd:ee:ff</c> (or with <c>-</c> as separator) without throwing.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out MacAddress mac)
    {
        mac = default;
        if (text.Length != 17)
        {
            return false;
        }
        Span<byte> bytes = stackalloc byte[Length];
        for (var i = 0; i < Length; i++)
        {
            var part = text.Slice(i * 3, 2);
            if (i < Length - 1 && text[i * 3 + 2] is not (':' or '-'))
            {
                return false;
            }
            if (!byte.TryParse(part, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out bytes[i]))
            {
                return false;
            }
        }
        mac = FromBytes(bytes);
        return true;
    }

    /// <summary>Whether the group (multicast) bit is clear.</summary>
    public bool IsUnicast => (FirstByte & 0x01) == 0;

    /// <summary>Whether this is a multicast (group) address, broadcast included.</summary>
    public bool IsMulticast => !IsUnicast;

    /// <summary>Whether all six bytes are zero.</summary>
    public bool IsZero => _value == 0;

    /// <summary>Whether the locally administered bit is set.</summary>
    public bool IsLocallyAdministered => (FirstByte & 0x02) != 0;

    /// <summary>Whether this address may be a device's own address: unicast and not zero (<c>is_valid_ether_addr</c>).</summary>
    public bool IsValidDeviceAddress => IsUnicast && !IsZero;

    private byte FirstByte => (byte)(_value >> 40);

    /// <summary>Writes the six bytes in network order to <paramref name="destination"/>.</summary>
    public void CopyTo(Span<byte> destination)
    {
        Span<byte> wide = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(wide, _value);
        wide[2..].CopyTo(destination[..Length]);
    }

    /// <summary>The six bytes in network order.</summary>
    public byte[] ToArray()
    {
        var bytes = new byte[Length];
        CopyTo(bytes);
        return bytes;
    }

    /// <inheritdoc/>
    public bool Equals(MacAddress other) => _value == other._value;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is MacAddress other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => _value.GetHashCode();

    /// <summary>Whether two addresses are equal.</summary>
    public static bool operator ==(MacAddress left, MacAddress right) => left.Equals(right);

    /// <summary>Whether two addresses differ.</summary>
    public static bool operator !=(MacAddress left, MacAddress right) => !left.Equals(right);

    /// <summary>The address as <c>aa:bb:cc:dd:ee:ff</c>, lower case as <c>ip link</c> prints it.</summary>
    public override string ToString() => string.Create(17, _value, static (chars, value) =>
    {
        for (var i = 0; i < Length; i++)
        {
            var b = (byte)(value >> (40 - 8 * i));
            chars[i * 3] = "0123456789abcdef"[b >> 4];
            chars[i * 3 + 1] = "0123456789abcdef"[b & 0xF];
            if (i < Length - 1)
            {
                chars[i * 3 + 2] = ':';
            }
        }
    });

    /// <inheritdoc/>
    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

    /// <inheritdoc/>
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider)
    {
        var text = ToString();
        charsWritten = 0;
        if (!text.AsSpan().TryCopyTo(destination))
        {
            return false;
        }
        charsWritten = text.Length;
        return true;
    }
}
