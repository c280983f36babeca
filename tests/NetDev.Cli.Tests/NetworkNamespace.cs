using System.Text.Json;

namespace NetDev.Cli.Tests;

/// <summary>
/// A network namespace of its own for one test (<c>ndt-</c> and random hex), removed on dispose whether
/// the test passed or not; everything a test does to interfaces happens in here, never in the root namespace.
/// </summary>
public sealed class NetworkNamespace : IAsyncDisposable
{
    private NetworkNamespace(string name) => Name = name;

    public string Name { get; }

    public static async Task<NetworkNamespace> CreateAsync()
    {
        var name = $"ndt-{Convert.ToHexStringLower(Guid.NewGuid().ToByteArray(), 0, 5)}";
        (await Shell.RunAsync("ip", "netns", "add", name)).EnsureSuccess();
        return new NetworkNamespace(name);
    }

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
    public async Task KillProcessesAsync()
    {
        var pids = (await Shell.RunAsync("ip", "netns", "pids", Name)).Stdout
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(pid => pid != Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .ToArray();
        if (pids.Length > 0)
        {
            await Shell.RunAsync("kill", ["-KILL", .. pids]);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillProcessesAsync();
        // Interfaces inside go with the namespace once no process keeps it; the CLI is killed before this.
        // A test may have deleted the namespace itself, as an outsider would.
        if (File.Exists(Path.Combine("/run/netns", Name)))
        {
            (await Shell.RunAsync("ip", "netns", "delete", Name)).EnsureSuccess();
        }
    }
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
