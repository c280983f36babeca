using System.Diagnostics.CodeAnalysis;

namespace NetDev;

/// <summary>
/// What of a driver class NetDev reads by reflection, and so what trimming and Native AOT must keep: its
/// methods, to tell which optional operations it implements (the seed's <c>HAS_*</c> table).
/// </summary>
/// <remarks>
/// A generic method of your own that creates a <see cref="Registration{TDriver}"/> for any driver type
/// carries the same annotation on its type parameter:
/// <c>void Run&lt;[DynamicallyAccessedMembers(DriverReflection.Members)] TDriver&gt;()</c>.
/// </remarks>
public static class DriverReflection
{
    /// <summary>The members of a driver type that must survive trimming.</summary>
    public const DynamicallyAccessedMemberTypes Members =
        DynamicallyAccessedMemberTypes.PublicMethods | DynamicallyAccessedMemberTypes.NonPublicMethods | DynamicallyAccessedMemberTypes.Interfaces;
}
