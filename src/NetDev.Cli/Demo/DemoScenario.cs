using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using NetDev.Control;
using NetDev.Drivers.Pair;
using NetDev.Linux;

namespace NetDev.Cli.Demo;

/// <summary>Settings of <c>netdev demo</c>.</summary>
internal sealed record DemoOptions(int Pings, long TransferBytes, int Queues, bool Offloads);

/// <summary>
/// <c>netdev demo</c>: two network namespaces joined by the pair driver, addresses on both ends, a ping
/// and a TCP transfer across, then the figures and both devices' counters. Everything it makes it removes,
/// on success, on failure and on Ctrl-C. While it runs, <c>netdev list</c>, <c>stats</c> and <c>ethtool</c>
/// see both ends through the control endpoints <paramref name="control"/> places. A demo killed with
/// SIGKILL cannot clean up; its namespaces, named after its process id, are swept by the next demo.
/// </summary>
internal sealed partial class DemoScenario(DemoOptions options, ControlServerOptions control, TextWriter output, ILoggerFactory loggerFactory)
{
    private static readonly IPAddress LeftAddress = IPAddress.Parse("10.77.0.1");
    private static readonly IPAddress RightAddress = IPAddress.Parse("10.77.0.2");
    private const int PrefixLength = 24;
    private const int TransferPort = 5201;

    private readonly string _leftNamespace = $"netdev-demo-{Environment.ProcessId}-a";
    private readonly string _rightNamespace = $"netdev-demo-{Environment.ProcessId}-b";

    /// <summary>Runs the demo; throws on failure or cancellation, after cleaning up.</summary>
    public async Task<bool> RunAsync(CancellationToken cancellation)
    {
        var created = new List<string>();
        PairRegistration? pair = null;
        using var endpoints = new DeviceEndpoints(control);
        SweepLeftovers();
        try
        {
            foreach (var name in new[] { _leftNamespace, _rightNamespace })
            {
                NetworkNamespace.Create(name);
                created.Add(name);
                NetworkConfiguration.SetUp(name, "lo");
            }
            Say($"namespaces    {_leftNamespace}, {_rightNamespace}");

            pair = PairDriver.Create(
                new LinuxHost(new LinuxHostOptions { NetworkNamespace = _leftNamespace }), "demo0",
                new LinuxHost(new LinuxHostOptions { NetworkNamespace = _rightNamespace }), "demo1",
                options.Queues, loggerFactory, options.Offloads ? DeviceFeatures.All : DeviceFeatures.None);
            pair.Register();
            endpoints.Serve([pair.First.Device, pair.Second.Device]);
            pair.BringUp();
            NetworkConfiguration.AddAddress(_leftNamespace, "demo0", LeftAddress, PrefixLength);
            NetworkConfiguration.AddAddress(_rightNamespace, "demo1", RightAddress, PrefixLength);
            Say($"pair          demo0 {LeftAddress}/{PrefixLength} ({_leftNamespace})  <->  demo1 {RightAddress}/{PrefixLength} ({_rightNamespace}), {options.Queues} queue(s), offloads {(options.Offloads ? pair.First.Device.Features.ToString() : "off")}");
            cancellation.ThrowIfCancellationRequested();

            var rtts = IcmpEcho.Ping(_leftNamespace, RightAddress, options.Pings, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(2), cancellation);
            var answered = rtts.OfType<TimeSpan>().Select(t => t.TotalMilliseconds).ToList();
            Say(answered.Count == 0
                ? $"ping          {options.Pings} sent, 0 answered"
                : $"ping          {options.Pings} sent, {answered.Count} answered, rtt min/avg/max = {answered.Min():F3}/{answered.Average():F3}/{answered.Max():F3} ms");

            var transfer = await TcpTransfer.RunAsync(_leftNamespace, _rightNamespace, new IPEndPoint(RightAddress, TransferPort), options.TransferBytes, cancellation);
            Say($"tcp           {transfer.Bytes / (1024.0 * 1024):F1} MiB in {transfer.Elapsed.TotalSeconds:F2} s = {transfer.MegabitsPerSecond:F0} Mbit/s, sha256 {(transfer.Intact ? "match" : "MISMATCH")}");

            foreach (var end in new[] { pair.First.Device, pair.Second.Device })
            {
                Say($"{end.Name,-13} {end.GetStats()}");
            }
            return answered.Count == options.Pings && transfer.Intact;
        }
        finally
        {
            Cleanup(endpoints, pair, created);
        }
    }

    /// <summary>
    /// Deletes the namespaces of earlier demos whose process no longer exists (killed before it could clean
    /// up; the interfaces went with its descriptors, the namespaces did not), and says which it swept.
    /// </summary>
    private void SweepLeftovers()
    {
        if (!Directory.Exists(NetworkNamespace.Directory))
        {
            return;
        }
        var swept = new List<string>();
        foreach (var name in Directory.EnumerateFiles(NetworkNamespace.Directory, "netdev-demo-*").Select(Path.GetFileName).OfType<string>().Order())
        {
            // A live process of that id may be a demo running now: its namespaces are its own to remove.
            if (LeftoverName().Match(name) is not { Success: true } match || Directory.Exists($"/proc/{match.Groups["pid"].Value}"))
            {
                continue;
            }
            try
            {
                NetworkNamespace.Delete(name);
                swept.Add(name);
            }
            catch (Exception error) when (error is NetDevException or IOException)
            {
                // Another demo swept it first, or it is held; the demo does not depend on it.
            }
        }
        if (swept.Count > 0)
        {
            Say($"swept         {string.Join(", ", swept)} (left by a demo that was killed)");
        }
    }

    [GeneratedRegex(@"^netdev-demo-(?<pid>\d+)-[ab]$")]
    private static partial Regex LeftoverName();

    private void Cleanup(DeviceEndpoints endpoints, PairRegistration? pair, List<string> namespaces)
    {
        var failures = new List<Exception>();
        try
        {
            endpoints.Dispose();
            pair?.Dispose();
        }
        catch (Exception error)
        {
            failures.Add(error);
        }
        foreach (var name in namespaces)
        {
            try
            {
                NetworkNamespace.Delete(name);
            }
            catch (Exception error)
            {
                failures.Add(error);
            }
        }
        Say(failures.Count == 0 ? "cleaned up    devices and namespaces removed" : $"cleanup       {failures.Count} step(s) failed");
        if (failures.Count > 0)
        {
            throw new AggregateException("The demo could not remove everything it made.", failures);
        }
    }

    private void Say(string line)
    {
        output.WriteLine(line);
        output.Flush();
    }
}
