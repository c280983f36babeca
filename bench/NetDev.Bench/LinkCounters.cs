using System.Text.Json;

namespace NetDev.Bench;

/// <summary>
/// The kernel's own counters of an interface (<c>ip -s -j link</c>), the common yardstick of both sides:
/// on a TAP, <see cref="TxPackets"/> counts frames a reader took out of it and <see cref="RxPackets"/>
/// frames a writer put into the system's stack, whoever the reader or writer is.
/// </summary>
internal readonly record struct LinkCounters(long TxPackets, long TxDropped, long RxPackets, long RxDropped, long RxBytes)
{
    public static LinkCounters Read(string networkNamespace, string device)
    {
        var json = Tool.Ip(networkNamespace, "-s", "-j", "link", "show", "dev", device);
        using var document = JsonDocument.Parse(json);
        var stats = document.RootElement[0].GetProperty("stats64");
        var tx = stats.GetProperty("tx");
        var rx = stats.GetProperty("rx");
        return new LinkCounters(
            tx.GetProperty("packets").GetInt64(),
            tx.GetProperty("dropped").GetInt64(),
            rx.GetProperty("packets").GetInt64(),
            rx.GetProperty("dropped").GetInt64(),
            rx.GetProperty("bytes").GetInt64());
    }
}
