namespace NetDev;

/// <summary>Which way frames go.</summary>
public enum TrafficDirection
{
    /// <summary>Frames the system sends through the device.</summary>
    Transmit,
    /// <summary>Frames the device hands to the system.</summary>
    Receive,
}
