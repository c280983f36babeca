using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using NetDev.Diagnostics;
using NetDev.Tests.Fakes;

namespace NetDev.Tests.Diagnostics;

/// <summary>The NetDev event source: a FrameDropped event per drop while a listener is attached, none otherwise.</summary>
public sealed class DropTraceTests
{
    private sealed class DropListener : EventListener
    {
        public ConcurrentQueue<EventWrittenEventArgs> Events { get; } = new();

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == NetDevEventSource.SourceName)
            {
                EnableEvents(eventSource, EventLevel.Informational, NetDevEventSource.Keywords.Drops);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData) => Events.Enqueue(eventData);
    }

    private static List<EventWrittenEventArgs> DropsOf(DropListener listener, string device) =>
        [.. listener.Events.Where(e => e.EventId == NetDevEventSource.FrameDroppedId && (string?)e.Payload![0] == device)];

    [Fact]
    public void ADroppedFrameIsReportedWithDeviceQueueDirectionReasonLengthAndItsFirstBytes()
    {
        using var listener = new DropListener();
        using var harness = MetricsTests.UpAs("trace-a");
        harness.Link.RaiseAdminState(false);
        var frame = new byte[100];
        frame.AsSpan().Fill(0xAB);
        frame[0] = 0x01;

        harness.Link.SendFrame(0, frame);

        var drop = Assert.Single(DropsOf(listener, "trace-a"));
        Assert.Equal(["device", "queue", "direction", "reason", "length", "head"], drop.PayloadNames);
        Assert.Equal(0, drop.Payload![1]);
        Assert.Equal("tx", drop.Payload[2]);
        Assert.Equal("device_down", drop.Payload[3]);
        Assert.Equal(100, drop.Payload[4]);
        Assert.Equal(frame[..NetDevEventSource.HeadLength], (byte[])drop.Payload[5]!);
    }

    [Fact]
    public void AReceivedFrameTheSystemRefusesIsReportedAsRx()
    {
        using var listener = new DropListener();
        using var harness = MetricsTests.UpAs("trace-b");
        harness.Link.DeliverResult = DropReason.QueueFull;
        var skb = harness.Device.AllocSkb();
        "short"u8.CopyTo(skb.Put(5));

        harness.Device.NetifRx(skb);

        var drop = Assert.Single(DropsOf(listener, "trace-b"));
        Assert.Equal("rx", drop.Payload![2]);
        Assert.Equal("queue_full", drop.Payload[3]);
        Assert.Equal("short"u8.ToArray(), (byte[])drop.Payload[5]!);
    }

    [Fact]
    public void ConsumedFramesAreNotReported()
    {
        using var listener = new DropListener();
        using var harness = MetricsTests.UpAs("trace-c");

        harness.Link.SendFrame(0, "delivered"u8);

        Assert.Empty(DropsOf(listener, "trace-c"));
    }
}
