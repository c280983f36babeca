// TCP throughput through two tunnel devices, measured with iperf3 (docs/tunnel.md, "Offloads").
// Usage, as root, with iperf3 installed:
//   dotnet run -c Release --project examples/TunnelThroughput -- [none|segmentation|coalescing|all] [seconds]
// It makes two network namespaces of its own joined by a veth (the underlay), a tunnel in each, runs
// `iperf3 -c` from one to the other for the given time (10 s by default) once per mode asked for, prints
// the rate and the tunnels' own counters, and removes everything again, also on failure or Ctrl+C.

using System.Diagnostics;
using System.Net;
using NetDev;
using NetDev.Drivers.Tunnel;
using NetDev.Linux;

var modes = (args.Length > 0 ? args[0] : "all") switch
{
    "none" => [TunnelOffloads.None],
    "segmentation" => [TunnelOffloads.Segmentation],
    "coalescing" => [TunnelOffloads.SegmentationAndCoalescing],
    "all" => new[] { TunnelOffloads.None, TunnelOffloads.Segmentation, TunnelOffloads.SegmentationAndCoalescing },
    var other => throw new ArgumentException($"unknown mode '{other}': none, segmentation, coalescing or all"),
};
var seconds = args.Length > 1 ? int.Parse(args[1]) : 10;
var id = Guid.NewGuid().ToString("N")[..6];
string[] namespaces = [$"ntp-a-{id}", $"ntp-b-{id}"];
Console.CancelKeyPress += (_, _) => Cleanup();
try
{
    foreach (var ns in namespaces)
    {
        Run("ip", $"netns add {ns}");
        Run("ip", $"-n {ns} link set lo up");
    }
    Run("ip", $"-n {namespaces[0]} link add ul-a type veth peer name ul-b netns {namespaces[1]}");
    Run("ip", $"-n {namespaces[0]} addr add 10.250.77.1/24 dev ul-a");
    Run("ip", $"-n {namespaces[1]} addr add 10.250.77.2/24 dev ul-b");
    Run("ip", $"-n {namespaces[0]} link set ul-a up");
    Run("ip", $"-n {namespaces[1]} link set ul-b up");
    Console.WriteLine($"{Environment.ProcessorCount} CPUs, kernel {Environment.OSVersion.Version}, {seconds} s per mode, one TCP stream");
    var port = 47000;
    foreach (var mode in modes)
    {
        port++;
        using var a = Start(namespaces[0], "tpa", "10.250.77.1", "10.250.77.2", port, mode);
        using var b = Start(namespaces[1], "tpb", "10.250.77.2", "10.250.77.1", port, mode);
        Run("ip", $"-n {namespaces[0]} addr add 10.251.77.1/24 dev tpa");
        Run("ip", $"-n {namespaces[1]} addr add 10.251.77.2/24 dev tpb");
        using var server = Process.Start(new ProcessStartInfo("ip", $"netns exec {namespaces[1]} iperf3 -s -1 -B 10.251.77.2") { RedirectStandardOutput = true })!;
        Thread.Sleep(500);
        var output = Run("ip", $"netns exec {namespaces[0]} iperf3 -c 10.251.77.2 -t {seconds} -f g");
        server.WaitForExit(10_000);
        var receiver = output.Split('\n').Last(line => line.Contains("receiver"));
        Console.WriteLine($"{mode,-26} {receiver.Trim()}");
        Console.WriteLine($"{"",-26} sender {Counters(a.Device, "tunnel_tx_datagrams", "tunnel_tx_segmented_frames")}; " +
            $"receiver {Counters(b.Device, "tunnel_rx_datagrams", "tunnel_rx_coalesced_segments")}, rx frames {b.Device.GetStats().RxPackets}");
    }
}
finally
{
    Cleanup();
}

void Cleanup()
{
    foreach (var ns in namespaces)
    {
        Process.Start("ip", $"netns del {ns}")?.WaitForExit();
    }
}

static Registration<TunnelDriver> Start(string ns, string name, string local, string remote, int port, TunnelOffloads offloads)
{
    var socket = NetworkNamespace.Run(ns, () => TunnelDriver.CreateSocket(new IPEndPoint(IPAddress.Parse(local), port)));
    var registration = TunnelDriver.CreateRegistration(new LinuxHost(new LinuxHostOptions { NetworkNamespace = ns }), socket,
        new IPEndPoint(IPAddress.Parse(remote), port), name, offloads: offloads);
    registration.Register();
    registration.Device.BringUp();
    return registration;
}

static string Counters(NetDevice device, params string[] names)
{
    var statistics = device.GetEthtoolStatistics().ToDictionary(kv => kv.Key, kv => kv.Value);
    return string.Join(", ", names.Select(name => $"{name.Replace("tunnel_", "")} {statistics[name]}"));
}

static string Run(string file, string arguments)
{
    using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
    var output = process.StandardOutput.ReadToEnd();
    var error = process.StandardError.ReadToEnd();
    process.WaitForExit();
    if (process.ExitCode != 0)
    {
        throw new InvalidOperationException($"{file} {arguments}: exit {process.ExitCode}: {error}{output}");
    }
    return output;
}
