using System.Diagnostics.Tracing;

namespace NetDev.Diagnostics;

/// <summary>
/// The <c>NetDev</c> event source: a <see cref="FrameDropped"/> event for every frame a device drops, with the
/// frame's first bytes, as the kernel's <c>drop_monitor</c> reports <c>kfree_skb</c> — so
/// <c>dotnet-trace collect --providers NetDev</c>, or an <see cref="EventListener"/>, sees where frames go.
/// </summary>
/// <remarks>
/// The drop site asks <see cref="EventSource.IsEnabled()"/> first (a field read): with no session or listener
/// attached nothing is built or copied, and the packet path allocates nothing. While one is attached each drop
/// costs the event's payload, the frame's first <see cref="HeadLength"/> bytes included.
/// </remarks>
[EventSource(Name = SourceName)]
public sealed class NetDevEventSource : EventSource
{
    /// <summary>The source's name, as tools ask for it.</summary>
    public const string SourceName = "NetDev";

    /// <summary>The <see cref="FrameDropped"/> event's id.</summary>
    public const int FrameDroppedId = 1;

    /// <summary>How many of a dropped frame's first bytes the event carries: Ethernet, IP and TCP headers, usually.</summary>
    public const int HeadLength = 64;

    /// <summary>The one instance.</summary>
    public static readonly NetDevEventSource Log = new();

    private NetDevEventSource()
    {
    }

    /// <summary>The event's keywords: turn on <see cref="Drops"/> to get drops.</summary>
    public static class Keywords
    {
        /// <summary>Frames dropped.</summary>
        public const EventKeywords Drops = (EventKeywords)1;
    }

    /// <summary>A device dropped a frame.</summary>
    /// <param name="device">The interface name.</param>
    /// <param name="queue">The queue the frame belonged to.</param>
    /// <param name="direction"><c>tx</c> (a frame the system sent through the device) or <c>rx</c> (one the device was handing to the system).</param>
    /// <param name="reason">The <see cref="DropReason"/> in snake case.</param>
    /// <param name="length">The frame's length in bytes.</param>
    /// <param name="head">The frame's first bytes, at most <see cref="HeadLength"/>.</param>
    [Event(FrameDroppedId, Level = EventLevel.Informational, Keywords = Keywords.Drops, Message = "{0} dropped a {4}-byte {2} frame on queue {1}: {3}")]
    public void FrameDropped(string device, int queue, string direction, string reason, int length, byte[] head) =>
        WriteEvent(FrameDroppedId, device, queue, direction, reason, length, head);

    /// <summary>Emits <see cref="FrameDropped"/> for <paramref name="frame"/>, if a listener wants drops.</summary>
    [NonEvent]
    internal void Dropped(NetDevice? device, int queue, TrafficDirection direction, DropReason reason, ReadOnlySpan<byte> frame)
    {
        if (!IsEnabled(EventLevel.Informational, Keywords.Drops))
        {
            return;
        }
        FrameDropped(device?.Name ?? "", queue, DiagnosticNames.Of(direction), DiagnosticNames.Of(reason), frame.Length,
            frame[..Math.Min(frame.Length, HeadLength)].ToArray());
    }
}
