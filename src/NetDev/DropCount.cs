namespace NetDev;

/// <summary>How many frames were dropped in one direction for one reason.</summary>
/// <param name="Direction">Transmit or receive.</param>
/// <param name="Reason">Why.</param>
/// <param name="Count">How many.</param>
public readonly record struct DropCount(TrafficDirection Direction, DropReason Reason, long Count);
