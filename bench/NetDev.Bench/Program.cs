using System.Diagnostics;
using System.Runtime.InteropServices;
using NetDev.Bench;

// NetDev's benchmark suite; bench/README.md says how to run it and what each figure means.

if (args.Contains("-h") || args.Contains("--help"))
{
    Console.WriteLine(BenchOptions.Usage);
    return 0;
}
BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException error)
{
    Console.Error.WriteLine($"bench: {error.Message}");
    Console.Error.WriteLine(BenchOptions.Usage);
    return 2;
}

var log = Console.Out;
using var interruption = new CancellationTokenSource();
Console.CancelKeyPress += (_, signal) =>
{
    // The first Ctrl-C cleans up; a second one ends the process at once.
    if (!interruption.IsCancellationRequested)
    {
        signal.Cancel = true;
        log.WriteLine("bench: interrupted; removing what it made");
        interruption.Cancel();
    }
};
using var termination = PosixSignalRegistration.Create(PosixSignal.SIGTERM, signal =>
{
    signal.Cancel = true;
    interruption.Cancel();
});

var repository = FindRepository();
var command = Environment.GetEnvironmentVariable("NETDEV_BENCH_COMMAND")
    ?? $"sudo dotnet run -c Release --project bench/NetDev.Bench --{(args.Length > 0 ? " " + string.Join(' ', args) : "")}";
var output = options.Output ?? Path.Combine(repository, "bench", "results", options.Groups == FigureGroups.MixedSoak ? "soak.md" : "latest.md");
var started = Stopwatch.GetTimestamp();

Baselines baselines;
IReadOnlyList<(string What, string Value)> machine;
try
{
    Requirements.Ensure(log, wireGuard: options.Groups.HasFlag(FigureGroups.Keyed));
    Sandbox.RemoveStale(log);
    baselines = Baselines.Build(Path.Combine(repository, "bench", "baseline"), Path.Combine(repository, "bench", "artifacts", "baseline"));
    machine = Machine.Describe(baselines, repository);
}
catch (BenchException error)
{
    Console.Error.WriteLine($"bench: {error.Message}");
    return 1;
}
var loadAtStart = Machine.LoadAverage();
log.WriteLine($"bench: {options.Describe()}");
log.WriteLine($"bench: {string.Join(", ", machine.Take(4).Select(item => $"{item.What} {item.Value}"))}; load {loadAtStart}");

var results = new Results();
var sandbox = new Sandbox(interruption.Token);
var context = new BenchContext(options, sandbox, baselines, results, log);
string? failure = null;
try
{
    if (options.Groups.HasFlag(FigureGroups.Tx))
    {
        var tx = new TxFigures(context);
        tx.Run(queues: 1);
        tx.Run(queues: 2);
    }
    if (options.Groups.HasFlag(FigureGroups.Rx))
    {
        new RxFigure(context).Run();
    }
    if (options.Groups.HasFlag(FigureGroups.Pair))
    {
        new PairFigures(context).Run();
    }
    if (options.Groups.HasFlag(FigureGroups.Tunnel))
    {
        new TunnelFigures(context).Run();
    }
    if (options.Groups.HasFlag(FigureGroups.Peers))
    {
        new PeerFigures(context).Run();
    }
    if (options.Groups.HasFlag(FigureGroups.Keyed))
    {
        new KeyedTunnelFigures(context).Run();
    }
    if (options.Groups.HasFlag(FigureGroups.Aead))
    {
        new AeadFigure(context).Run();
    }
    if (options.Groups.HasFlag(FigureGroups.MixedSoak))
    {
        new MixedSoak(context).Run();
    }
}
catch (Exception) when (interruption.IsCancellationRequested)
{
    failure = "interrupted";
}
catch (Exception error)
{
    failure = error is BenchException ? error.Message : error.ToString();
}
finally
{
    foreach (var problem in sandbox.RemoveAll())
    {
        Console.Error.WriteLine($"bench: cleanup: {problem}");
    }
}
if (failure is not null)
{
    Console.Error.WriteLine($"bench: {failure}; namespaces, devices and processes were removed; {output} was left as it was");
    return failure == "interrupted" ? 130 : 1;
}

var report = Report.Write(command, options, machine, loadAtStart, Machine.LoadAverage(), Stopwatch.GetElapsedTime(started), results, context.DeviceErrors);
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
File.WriteAllText(output, report);
log.WriteLine();
log.WriteLine(report);
log.WriteLine($"bench: report written to {output}");
return 0;

// The repository root: the directory above the bench's build output that holds NetDev.slnx.
static string FindRepository()
{
    foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
    {
        for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "NetDev.slnx")) && Directory.Exists(Path.Combine(directory.FullName, "bench", "baseline")))
            {
                return directory.FullName;
            }
        }
    }
    throw new InvalidOperationException("cannot find the repository (a directory with NetDev.slnx and bench/baseline) above the bench or the current directory");
}
