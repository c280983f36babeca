using System.Globalization;

namespace NetDev.Bench;

/// <summary>One NetDev device of the soak, with the namespace its interface lives in.</summary>
internal sealed record SoakDevice(string Namespace, NetDevice Device)
{
    public string Name => Device.Name;
}

/// <summary>
/// One device's counters at one moment: the kernel's (its interface, <c>ip -s -j link</c>) and NetDev's
/// (its queues, its pools' drops by reason), from which the frames nobody accounts for follow.
/// </summary>
/// <remarks>
/// Both sides count from the interface's creation, so absolute values compare. On the transmit side the
/// kernel's <c>tx_packets</c> are the frames the TAP handed to NetDev's reader; each is then transmitted
/// (NetDev's tx packets) or dropped with a reason (NetDev's tx drops). On the receive side NetDev counts a
/// frame as received once the TAP took its write, which is when the kernel counts <c>rx_packets</c>.
/// </remarks>
internal sealed record DeviceLedger(
    string Name,
    LinkCounters Kernel,
    long TxPackets,
    long TxDropped,
    long RxPackets,
    long RxDropped,
    IReadOnlyList<DropCount> Drops,
    DeviceHealth Health,
    long Errors)
{
    public static DeviceLedger Read(SoakDevice soak)
    {
        var device = soak.Device;
        long txPackets = 0, txDropped = 0, rxPackets = 0, rxDropped = 0;
        foreach (var queue in device.Queues)
        {
            txPackets += queue.TxPackets;
            txDropped += queue.TxDropped;
            rxPackets += queue.RxPackets;
            rxDropped += queue.RxDropped;
        }
        return new DeviceLedger(device.Name, LinkCounters.Read(soak.Namespace, device.Name), txPackets, txDropped, rxPackets, rxDropped,
            device.GetDropCounts(), device.Health, device.ErrorCount);
    }

    /// <summary>Frames the kernel handed to NetDev that it neither transmitted nor dropped with a reason.</summary>
    public long UnaccountedTx => Kernel.TxPackets - TxPackets - TxDropped;

    /// <summary>Frames NetDev counts as received that the kernel did not take (or the other way round, negative).</summary>
    public long UnaccountedRx => RxPackets - Kernel.RxPackets;

    /// <summary>Frames this device's receive side handled: delivered, or dropped with a reason.</summary>
    public long RxHandled => RxPackets + RxDropped;

    /// <summary>The drops by reason of one direction, as "Reason n, Reason m" ("none" when there were none).</summary>
    public string DropsText(TrafficDirection direction)
    {
        var text = string.Join(", ", Drops.Where(drop => drop.Direction == direction).Select(drop => $"{drop.Reason} {Units.Count(drop.Count)}"));
        return text.Length == 0 ? "none" : text;
    }

    /// <summary>Everything compared when the soak waits for the counters to stand still.</summary>
    public string Key => string.Create(CultureInfo.InvariantCulture,
        $"{Kernel} {TxPackets} {TxDropped} {RxPackets} {RxDropped} {string.Join(',', Drops)}");
}

/// <summary>UDP counters of a network namespace (<c>/proc/net/snmp</c>): where datagrams die without a socket seeing them.</summary>
internal readonly record struct UdpCounters(long InDatagrams, long NoPorts, long InErrors, long OutDatagrams)
{
    /// <summary>Datagrams lost on arrival: no socket on the port, or no room in its buffer (InErrors counts RcvbufErrors too).</summary>
    public long Lost => NoPorts + InErrors;

    public static UdpCounters Read(string networkNamespace)
    {
        var lines = Tool.Run("ip", "netns", "exec", networkNamespace, "cat", "/proc/net/snmp")
            .Split('\n').Where(line => line.StartsWith("Udp: ", StringComparison.Ordinal)).ToArray();
        if (lines.Length < 2)
        {
            throw new BenchException($"no UDP counters in /proc/net/snmp of {networkNamespace}.");
        }
        var names = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var values = lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        long Field(string name) => long.Parse(values[Array.IndexOf(names, name)], CultureInfo.InvariantCulture);
        return new UdpCounters(Field("InDatagrams"), Field("NoPorts"), Field("InErrors"), Field("OutDatagrams"));
    }
}

/// <summary>The open descriptors and resident memory of the bench process (where every NetDev device of the soak runs).</summary>
/// <param name="Descriptors">Open descriptors (<c>/proc/self/fd</c>).</param>
/// <param name="ResidentKiB">Resident memory (VmRSS).</param>
/// <param name="Threads">Threads of the process.</param>
/// <param name="Kinds">Descriptors by what they are (socket, pipe, eventfd, io_uring, a file's path), so that a growth says what grew.</param>
internal sealed record ProcessFootprint(int Descriptors, long ResidentKiB, int Threads, IReadOnlyDictionary<string, int> Kinds)
{
    public static ProcessFootprint Read()
    {
        var kinds = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var descriptors = 0;
        foreach (var path in Directory.GetFiles("/proc/self/fd"))
        {
            string target;
            try
            {
                target = new FileInfo(path).LinkTarget ?? "?";
            }
            catch (IOException)
            {
                continue; // closed meanwhile (the one that listed the directory, for one)
            }
            descriptors++;
            // "socket:[1234]" and "anon_inode:[eventfd]" are kinds; a path names itself.
            var kind = target.StartsWith("anon_inode:", StringComparison.Ordinal) ? target["anon_inode:".Length..].Trim('[', ']')
                : target.IndexOf(":[", StringComparison.Ordinal) is var colon and > 0 ? target[..colon]
                : target;
            kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
        }
        return new ProcessFootprint(descriptors, ProcStatus.ReadKiB("/proc/self/status", "VmRSS:") ?? 0,
            (int)(ProcStatus.ReadKiB("/proc/self/status", "Threads:") ?? 0), kinds);
    }

    /// <summary>The kinds whose count differs from <paramref name="start"/>'s, as "eventfd 3 → 5".</summary>
    public string ChangesSince(ProcessFootprint start)
    {
        var changes = start.Kinds.Keys.Union(Kinds.Keys).Order(StringComparer.Ordinal)
            .Where(kind => start.Kinds.GetValueOrDefault(kind) != Kinds.GetValueOrDefault(kind))
            .Select(kind => $"{kind} {start.Kinds.GetValueOrDefault(kind)} → {Kinds.GetValueOrDefault(kind)}");
        return string.Join(", ", changes);
    }

    /// <summary>
    /// Descriptors other than the runtime's assemblies: an assembly the runtime maps on first use (a code
    /// path the warm-up did not take) stays open for good and is no leak.
    /// </summary>
    public int DescriptorsBesidesAssemblies => Descriptors - Kinds.Where(kind => kind.Key.EndsWith(".dll", StringComparison.Ordinal)).Sum(kind => kind.Value);

    public override string ToString() => $"{Descriptors} descriptors ({DescriptorsBesidesAssemblies} besides assemblies), RSS {Units.MiB(ResidentKiB)}, {Threads} threads";
}
