using NetDev.Linux;

namespace NetDev.Bench;

/// <summary>
/// Everything the bench makes — network namespaces, NetDev devices, baseline and tool processes — and
/// its removal: at the end of a figure, at the end of the run, on failure and on Ctrl-C or SIGTERM.
/// </summary>
/// <remarks>
/// <para>Namespaces are named <c>ndb-PID-TAG</c>. All traffic of the suite stays inside them: the root
/// namespace's interfaces, addresses and routes are never touched. Namespaces left by a bench that was
/// killed outright (its PID is gone) are removed when the next one starts.</para>
/// <para>Processes die with the bench even if it is killed with SIGKILL: the C baselines arm
/// PR_SET_PDEATHSIG themselves, tools are started under <c>setpriv --pdeathsig KILL</c>. That signal fires
/// when the <em>thread</em> that started the process ends, so processes are only started from the
/// bench's main thread. Each runs in a session of its own (<c>setsid</c>, which execs in place when
/// started this way), so a Ctrl-C at the terminal reaches the bench alone, which then removes everything
/// in order, instead of killing tools half way through a figure.</para>
/// <para><b>Invariants.</b> Everything made is in exactly one of the three lists until it is removed;
/// removal goes processes first (they hold TAPs and namespaces open), then devices, then namespaces.</para>
/// </remarks>
internal sealed class Sandbox(CancellationToken cancellation) : IDisposable
{
    private const string Prefix = "ndb-";

    private readonly List<ChildProcess> _processes = [];
    private readonly List<IDisposable> _devices = [];
    private readonly List<string> _namespaces = [];
    private readonly object _lock = new();

    public CancellationToken Cancellation => cancellation;

    /// <summary>Removes namespaces of earlier benches whose process no longer exists.</summary>
    public static void RemoveStale(TextWriter log)
    {
        if (!Directory.Exists(NetworkNamespace.Directory))
        {
            return;
        }
        foreach (var path in Directory.GetFiles(NetworkNamespace.Directory, Prefix + "*"))
        {
            var name = Path.GetFileName(path);
            var parts = name.Split('-');
            if (parts.Length >= 3 && int.TryParse(parts[1], out var pid) && !Directory.Exists($"/proc/{pid}"))
            {
                log.WriteLine($"bench: removing namespace {name} left by an earlier run");
                NetworkNamespace.Delete(name);
            }
        }
    }

    /// <summary>
    /// Creates namespace <c>ndb-PID-<paramref name="tag"/></c> with loopback up and IPv6 off (so no router
    /// solicitation or duplicate address detection adds frames to a figure).
    /// </summary>
    public string CreateNamespace(string tag)
    {
        var name = $"{Prefix}{Environment.ProcessId}-{tag}";
        NetworkNamespace.Create(name);
        lock (_lock)
        {
            _namespaces.Add(name);
        }
        NetworkConfiguration.SetUp(name, "lo");
        NetworkNamespace.Run(name, () =>
        {
            // /proc/sys/net belongs to the namespace of the thread that opens it.
            foreach (var scope in new[] { "all", "default" })
            {
                var path = $"/proc/sys/net/ipv6/conf/{scope}/disable_ipv6";
                if (File.Exists(path))
                {
                    File.WriteAllText(path, "1");
                }
            }
        });
        return name;
    }

    /// <summary>Deletes a namespace made by <see cref="CreateNamespace"/> (the interfaces in it go with it).</summary>
    public void DeleteNamespace(string name)
    {
        lock (_lock)
        {
            _namespaces.Remove(name);
        }
        NetworkNamespace.Delete(name);
    }

    /// <summary>Keeps <paramref name="device"/> (a registration) for removal at the end.</summary>
    public T Track<T>(T device) where T : IDisposable
    {
        lock (_lock)
        {
            _devices.Add(device);
        }
        return device;
    }

    /// <summary>Removes <paramref name="device"/> now.</summary>
    public void Remove(IDisposable device)
    {
        lock (_lock)
        {
            _devices.Remove(device);
        }
        device.Dispose();
    }

    /// <summary>Starts a baseline program (it enters its namespace and dies with the bench by itself).</summary>
    public ChildProcess StartBaseline(string program, IEnumerable<string> arguments, string what, bool writableInput = false) =>
        Keep(ChildProcess.Start("setsid", [program, .. arguments], what, writableInput));

    /// <summary>Starts <paramref name="command"/> inside <paramref name="networkNamespace"/>, killed if the bench dies.</summary>
    public ChildProcess StartIn(string networkNamespace, string what, params string[] command) =>
        Keep(ChildProcess.Start("setsid", ["setpriv", "--pdeathsig", "KILL", "--", "ip", "netns", "exec", networkNamespace, .. command], what));

    /// <summary>Kills <paramref name="process"/> now.</summary>
    public void Stop(ChildProcess process)
    {
        process.Stop();
        lock (_lock)
        {
            _processes.Remove(process);
        }
    }

    /// <summary>Sleeps, or throws <see cref="OperationCanceledException"/> at Ctrl-C.</summary>
    public void Sleep(TimeSpan duration)
    {
        if (cancellation.WaitHandle.WaitOne(duration))
        {
            cancellation.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Removes everything still there; failures are collected and reported, not thrown.</summary>
    public IReadOnlyList<string> RemoveAll()
    {
        List<ChildProcess> processes;
        List<IDisposable> devices;
        List<string> namespaces;
        lock (_lock)
        {
            processes = [.. _processes];
            devices = [.. _devices];
            namespaces = [.. _namespaces];
            _processes.Clear();
            _devices.Clear();
            _namespaces.Clear();
        }
        var failures = new List<string>();
        foreach (var process in processes)
        {
            process.Stop();
        }
        foreach (var device in Enumerable.Reverse(devices))
        {
            try
            {
                device.Dispose();
            }
            catch (Exception error)
            {
                failures.Add($"removing a device: {error.Message}");
            }
        }
        foreach (var name in namespaces)
        {
            try
            {
                NetworkNamespace.Delete(name);
            }
            catch (Exception error)
            {
                failures.Add($"deleting namespace {name}: {error.Message}");
            }
        }
        return failures;
    }

    public void Dispose() => RemoveAll();

    private ChildProcess Keep(ChildProcess process)
    {
        lock (_lock)
        {
            _processes.Add(process);
        }
        return process;
    }
}
