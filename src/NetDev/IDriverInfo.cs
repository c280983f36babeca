namespace NetDev;

/// <summary>Optional: lets a driver give its name (shown by tools) instead of its class name.</summary>
public interface IDriverInfo
{
    /// <summary>The driver's name, such as <c>dummy</c>.</summary>
    string DriverName { get; }
}
