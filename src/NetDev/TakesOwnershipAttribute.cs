namespace NetDev;

/// <summary>
/// Marks an <see cref="SkBuff"/> parameter that takes ownership of the frame: the caller's handle is
/// dead once the call returns, and the method releases the frame (or keeps it to release later) on
/// every path, as Rust's move into a by-value parameter.
/// </summary>
/// <remarks>
/// <para>An <see cref="SkBuff"/> parameter without this attribute is borrowed: the method may read and
/// change the frame, but the caller still owns it and releases it afterwards.</para>
/// <para>NetDev's analyzer reads the attribute on both sides of a call: passing a frame to such a
/// parameter counts as releasing it (using it afterwards is an error), and inside the method the
/// parameter must be released on every path like a frame the method rented itself. A method that
/// releases or stores a borrowed parameter is an error until the parameter carries this attribute.
/// The attribute is also honoured when it sits on the interface or base member a method implements.</para>
/// </remarks>
[AttributeUsage(AttributeTargets.Parameter, AllowMultiple = false, Inherited = true)]
public sealed class TakesOwnershipAttribute : Attribute
{
}
