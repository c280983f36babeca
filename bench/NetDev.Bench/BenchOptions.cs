using System.Globalization;

namespace NetDev.Bench;

/// <summary>The figure groups the suite can run.</summary>
[Flags]
internal enum FigureGroups
{
    None = 0,
    Tx = 1,
    Rx = 2,
    Pair = 4,
    Tunnel = 16,
    Peers = 32,

    /// <summary>The mixed soak (lost frames, leaks): only when asked for, it is not a figure.</summary>
    MixedSoak = 8,

    /// <summary>The keyed tunnel against wireguard-go.</summary>
    Keyed = 64,

    /// <summary>AES-256-GCM against ChaCha20-Poly1305, in process.</summary>
    Aead = 128,
    All = Tx | Rx | Pair | Tunnel | Peers | Keyed | Aead,
}

/// <summary>How long and how often each figure is measured, and what to run.</summary>
/// <param name="Quick">Short windows (a smoke run of the whole suite in about two minutes).</param>
/// <param name="Runs">Runs per figure and side; each figure is the median of these.</param>
/// <param name="Window">How long one frames/s window of the tx and rx figures lasts.</param>
/// <param name="Warmup">Traffic before a window starts (JIT, caches, queues filled).</param>
/// <param name="IperfSeconds">Length of one iperf3 run of the pair figures.</param>
/// <param name="Pings">Echo requests per RTT run, 10 ms apart.</param>
/// <param name="Soak">Length of the memory soak (GC counts, peak RSS); zero skips it.</param>
/// <param name="Groups">Which figure groups run.</param>
/// <param name="MixedSoak">Length of the mixed soak (<c>--only soak</c>).</param>
/// <param name="EventInterval">Time between two events of the mixed soak (a flap, an MTU change, a fault burst).</param>
/// <param name="Output">Where the markdown report goes.</param>
internal sealed record BenchOptions(
    bool Quick,
    int Runs,
    TimeSpan Window,
    TimeSpan Warmup,
    int IperfSeconds,
    int Pings,
    TimeSpan Soak,
    FigureGroups Groups,
    TimeSpan MixedSoak,
    TimeSpan EventInterval,
    string? Output)
{
    public const string Usage = """
        Usage: sudo bench/run [options]

        NetDev's side-by-side benchmark suite (see bench/README.md). Every figure is measured against a
        baseline in the same run and reported as a ratio, the median of several runs.

        Options:
          --quick              short windows: a smoke run of everything (about 2 minutes)
          --runs N             runs per figure and side, at least 3 (default 3)
          --duration S         seconds of one tx/rx window (default 5, quick 2)
          --warmup S           seconds of traffic before each window (default 1, quick 0.5)
          --iperf-seconds S    seconds of one iperf3 run (default 10, quick 3)
          --pings N            echo requests per RTT run (default 200, quick 50)
          --soak S             seconds of the memory soak: GC counts, peak RSS (default 60, quick 5; 0 skips)
          --only LIST          figure groups to run, comma-separated: tx, rx, pair, tunnel, peers, keyed, aead (default all), soak
                               (the mixed soak: only when named; `bench/soak` runs it alone)
          --soak-minutes M     minutes of the mixed soak (default 10)
          --event-every S      seconds between the mixed soak's events: flap, MTU change, fault burst (default 10)
          --output PATH        where the report goes (default bench/results/latest.md; soak.md for --only soak)
          -h, --help           this text
        """;

    /// <summary>Parses the command line; throws <see cref="ArgumentException"/> with a message for the user.</summary>
    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var quick = args.Contains("--quick");
        var options = new BenchOptions(
            Quick: quick,
            Runs: 3,
            Window: TimeSpan.FromSeconds(quick ? 2 : 5),
            Warmup: TimeSpan.FromSeconds(quick ? 0.5 : 1),
            IperfSeconds: quick ? 3 : 10,
            Pings: quick ? 50 : 200,
            Soak: TimeSpan.FromSeconds(quick ? 5 : 60),
            Groups: FigureGroups.All,
            MixedSoak: TimeSpan.FromMinutes(10),
            EventInterval: TimeSpan.FromSeconds(10),
            Output: null);
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{name} needs a value.");
            options = name switch
            {
                "--quick" => options,
                "--runs" => options with { Runs = Integer(name, Value(), 3, 99) },
                "--duration" => options with { Window = Seconds(name, Value(), 0.5, 600) },
                "--warmup" => options with { Warmup = Seconds(name, Value(), 0, 60) },
                "--iperf-seconds" => options with { IperfSeconds = Integer(name, Value(), 2, 600) },
                "--pings" => options with { Pings = Integer(name, Value(), 5, 10000) },
                "--soak" => options with { Soak = Seconds(name, Value(), 0, 3600) },
                "--only" => options with { Groups = ParseGroups(Value()) },
                "--soak-minutes" => options with { MixedSoak = Minutes(name, Value(), 0.25, 24 * 60) },
                "--event-every" => options with { EventInterval = Seconds(name, Value(), 2, 600) },
                "--output" => options with { Output = Value() },
                _ => throw new ArgumentException($"Unknown option '{name}'."),
            };
        }
        return options;
    }

    /// <summary>A one-line description of the settings, for the report.</summary>
    public string Describe() =>
        (Groups == FigureGroups.MixedSoak ? "" :
        $"{(Quick ? "quick" : "full")} run: {Runs} runs per figure, {Window.TotalSeconds:0.##} s tx/rx windows after {Warmup.TotalSeconds:0.##} s warm-up, " +
        $"iperf3 {IperfSeconds} s, {Pings} pings per RTT run, {(Soak > TimeSpan.Zero ? $"{Soak.TotalSeconds:0.##} s soak" : "no soak")}") +
        (Groups.HasFlag(FigureGroups.MixedSoak)
            ? $"{(Groups == FigureGroups.MixedSoak ? "" : "; ")}mixed soak {MixedSoak.TotalMinutes:0.##} min, an event every {EventInterval.TotalSeconds:0.##} s"
            : "");

    private static int Integer(string name, string text, int min, int max) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new ArgumentException($"{name} must be a whole number from {min} to {max}; got '{text}'.");

    private static TimeSpan Seconds(string name, string text, double min, double max) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? TimeSpan.FromSeconds(value)
            : throw new ArgumentException($"{name} must be a number of seconds from {min} to {max}; got '{text}'.");

    private static TimeSpan Minutes(string name, string text, double min, double max) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? TimeSpan.FromMinutes(value)
            : throw new ArgumentException($"{name} must be a number of minutes from {min} to {max}; got '{text}'.");

    private static FigureGroups ParseGroups(string text)
    {
        var groups = FigureGroups.None;
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            groups |= part switch
            {
                "tx" => FigureGroups.Tx,
                "rx" => FigureGroups.Rx,
                "pair" => FigureGroups.Pair,
                "tunnel" => FigureGroups.Tunnel,
                "peers" => FigureGroups.Peers,
                "keyed" => FigureGroups.Keyed,
                "aead" => FigureGroups.Aead,
                "soak" => FigureGroups.MixedSoak,
                _ => throw new ArgumentException($"--only takes tx, rx, pair, tunnel, peers, keyed, aead and soak; got '{part}'."),
            };
        }
        return groups == FigureGroups.None ? throw new ArgumentException("--only needs at least one group.") : groups;
    }
}
