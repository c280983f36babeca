using System.Text.Json;
using NetDev.TestSupport;

namespace NetDev.Cli.Tests;

/// <summary>
/// A network namespace of its own for one test; everything a test does to interfaces happens in here, never in
/// the root namespace. Disposing kills the processes left inside and removes it whether the test passed or not
/// (<see cref="KernelNamespace"/>).
/// </summary>
public sealed class NetworkNamespace : IAsyncDisposable
{
    private readonly KernelNamespace _namespace;

    private NetworkNamespace(KernelNamespace created) => _namespace = created;

    public string Name => _namespace.Name;

    /// <summary>A new namespace as <c>ip netns add</c> leaves it: IPv6 on, <c>lo</c> down.</summary>
    public static async Task<NetworkNamespace> CreateAsync() =>
        new(await Task.Run(() => KernelNamespace.Create(quiet: false, loopbackUp: false)));

    /// <summary>Runs <paramref name="arguments"/> inside the namespace (<c>ip netns exec</c>).</summary>
    public Task<CommandResult> ExecAsync(params string[] arguments) => Shell.RunAsync("ip", ["netns", "exec", Name, .. arguments]);

    /// <summary>Runs <c>ip -n NS</c> with <paramref name="arguments"/>.</summary>
    public Task<CommandResult> IpAsync(params string[] arguments) => Shell.RunAsync("ip", ["-n", Name, .. arguments]);

    /// <summary>The link called <paramref name="name"/> as <c>ip -j -d -s link show</c> describes it, or null when there is none.</summary>
    public async Task<LinkDescription?> FindLinkAsync(string name)
    {
        var result = await IpAsync("-j", "-d", "-s", "link", "show");
        result.EnsureSuccess();
        using var links = JsonDocument.Parse(result.Stdout);
        foreach (var link in links.RootElement.EnumerateArray())
        {
            if (link.GetProperty("ifname").GetString() == name)
            {
                return LinkDescription.From(link);
            }
        }
        return null;
    }

    /// <summary>The names of every link in the namespace.</summary>
    public async Task<IReadOnlyList<string>> LinkNamesAsync()
    {
        var result = await IpAsync("-j", "link", "show");
        result.EnsureSuccess();
        using var links = JsonDocument.Parse(result.Stdout);
        return [.. links.RootElement.EnumerateArray().Select(link => link.GetProperty("ifname").GetString()!)];
    }

    /// <summary>Kills every process inside the namespace (helpers a test started there, such as iperf3), but never this one.</summary>
    public Task KillProcessesAsync() => Task.Run(_namespace.KillProcesses);

    // The CLI is killed before this; a test may have deleted the namespace itself, as an outsider would.
    public async ValueTask DisposeAsync() => await Task.Run(_namespace.Dispose);
}

/// <summary>The parts of <c>ip -j -d -s link show</c> the tests look at.</summary>
public sealed record LinkDescription(string Name, IReadOnlySet<string> Flags, string Address, long TxPackets)
{
    /// <summary>Whether the first octet of <see cref="Address"/> has the locally administered bit and not the group bit.</summary>
    public bool IsLocallyAdministeredUnicast
    {
        get
        {
            var firstOctet = Convert.ToByte(Address[..2], 16);
            return (firstOctet & 0x02) != 0 && (firstOctet & 0x01) == 0;
        }
    }

    public static LinkDescription From(JsonElement link) => new(
        link.GetProperty("ifname").GetString()!,
        link.GetProperty("flags").EnumerateArray().Select(flag => flag.GetString()!).ToHashSet(),
        link.GetProperty("address").GetString()!,
        link.TryGetProperty("stats64", out var stats) ? stats.GetProperty("tx").GetProperty("packets").GetInt64() : -1);
}
