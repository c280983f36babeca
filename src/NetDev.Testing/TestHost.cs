using Microsoft.Extensions.Time.Testing;
using NetDev.Hosting;

namespace NetDev.Testing;

/// <summary>
/// A host whose interfaces live inside the process: a driver registered on it runs exactly as on the
/// Linux host, but the test plays the kernel — it sends frames into the device
/// (<see cref="TestLink.InjectTransmit(int, ReadOnlySpan{byte})"/>), sees what the driver hands to the
/// stack (<see cref="TestLink.Received"/>), sets the link up and down as others would, and moves time.
/// No root, no kernel.
/// </summary>
/// <remarks>
/// <para>By default nothing runs on a thread of its own: queue work runs inline on the thread of the call
/// that caused it, and time moves only when the test advances <see cref="Clock"/>, so every test is
/// deterministic. <see cref="TestHostOptions.Threaded"/> gives each queue a dedicated thread instead.</para>
/// <para>Like a fresh network namespace, the host starts with interface index 2 (1 would be <c>lo</c>) and
/// resolves a name template with <c>%d</c> to the first free number among its own interfaces.</para>
/// <para><b>Invariants.</b> <c>_links</c> holds the links not yet removed, by name, and <c>_everCreated</c>
/// every link made, in order; both change only under <c>_lock</c>. Interface indexes are never reused.</para>
/// </remarks>
public sealed class TestHost : INetDeviceHost
{
    private readonly object _lock = new();
    private readonly Dictionary<string, TestLink> _links = new(StringComparer.Ordinal);
    private readonly List<TestLink> _everCreated = [];
    private int _nextIfIndex = 2;
    private NetDevException? _nextCreateFailure;

    /// <summary>Creates a host with <paramref name="options"/> (deterministic defaults when omitted).</summary>
    public TestHost(TestHostOptions? options = null)
    {
        Options = options ?? new TestHostOptions();
        if (Options.BusyRetryInterval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), Options.BusyRetryInterval, "The busy retry interval must be positive.");
        }
        Time = Options.TimeProvider ?? new FakeTimeProvider();
    }

    /// <summary>The host's options.</summary>
    public TestHostOptions Options { get; }

    /// <inheritdoc/>
    public string Name => "test";

    /// <summary>The clock the host's timers run on.</summary>
    public TimeProvider Time { get; }

    /// <summary>The host's clock, to advance: <c>host.Clock.Advance(TimeSpan.FromSeconds(1))</c> fires what is due, on the calling thread.</summary>
    /// <exception cref="InvalidOperationException">The host was given a <see cref="TimeProvider"/> that is not a <see cref="FakeTimeProvider"/>.</exception>
    public FakeTimeProvider Clock => Time as FakeTimeProvider
        ?? throw new InvalidOperationException($"This host runs on {Time.GetType().Name}, which cannot be advanced; use Time, or give it a FakeTimeProvider.");

    /// <summary>The interfaces that exist now, in the order they were made.</summary>
    public IReadOnlyList<TestLink> Links
    {
        get
        {
            lock (_lock)
            {
                return [.. _everCreated.Where(link => !link.IsRemoved)];
            }
        }
    }

    /// <summary>Every interface the host ever made, removed ones included, in order.</summary>
    public IReadOnlyList<TestLink> AllLinks
    {
        get
        {
            lock (_lock)
            {
                return [.. _everCreated];
            }
        }
    }

    /// <summary>The interface of <paramref name="device"/> (registered on this host).</summary>
    /// <exception cref="InvalidOperationException">The device is not registered on this host.</exception>
    public TestLink GetLink(NetDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        lock (_lock)
        {
            // A link knows its device once started; in the moment between its creation and its start (inside
            // Register) the device knows the link's index, which is unique on this host.
            return _everCreated.LastOrDefault(link => link.Device == device || (!link.IsStarted && !link.IsRemoved && device.IfIndex == link.IfIndex))
                ?? throw new InvalidOperationException($"{device.Name} is not registered on this test host.");
        }
    }

    /// <summary>The interface named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No interface has that name.</exception>
    public TestLink GetLink(string name)
    {
        lock (_lock)
        {
            return _links.TryGetValue(name, out var link) ? link : throw new KeyNotFoundException($"The test host has no interface named '{name}'.");
        }
    }

    /// <summary>
    /// Registers <paramref name="registration"/>'s device on this host and returns its interface. Before
    /// that, a device still on the system clock is put on the host's (<see cref="Time"/>), so its transmit
    /// watchdog runs on the time the test moves.
    /// </summary>
    /// <exception cref="InvalidOperationException">The registration was made for another host (and is registered there all the same).</exception>
    public TestLink Register<TDriver>(Registration<TDriver> registration) where TDriver : class, IDeviceOperations<TDriver>
    {
        ArgumentNullException.ThrowIfNull(registration);
        if (registration.Device.TimeProvider == TimeProvider.System)
        {
            registration.Device.TimeProvider = Time;
        }
        registration.Register();
        return GetLink(registration.Device);
    }

    /// <summary>Makes the next <see cref="CreateLink"/> fail with <paramref name="errno"/>, as the kernel refusing the interface.</summary>
    public void FailNextCreateLink(int errno)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(errno);
        lock (_lock)
        {
            _nextCreateFailure = new NetDevException(errno, "RTM_NEWLINK", null);
        }
    }

    /// <inheritdoc/>
    public IHostLink CreateLink(LinkRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentOutOfRangeException.ThrowIfLessThan(request.QueueCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(request.Mtu, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(request.TxQueueLength);
        lock (_lock)
        {
            if (_nextCreateFailure is { } failure)
            {
                _nextCreateFailure = null;
                throw new NetDevException(failure.Errno, failure.Operation, request.NameTemplate);
            }
            var name = ResolveName(request.NameTemplate);
            var link = new TestLink(this, request, name, _nextIfIndex++);
            _links.Add(name, link);
            _everCreated.Add(link);
            return link;
        }
    }

    /// <summary>
    /// Joins the system sides of <paramref name="first"/> and <paramref name="second"/>, as if both were
    /// ports of one kernel bridge: what one device's driver delivers to the system is transmitted by the
    /// system into the other device's driver. See <see cref="TestWire"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">A link is already on a wire, or both are the same.</exception>
    public TestWire Connect(TestLink first, TestLink second)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        if (first.Host != this || second.Host != this)
        {
            throw new ArgumentException("Both links must belong to this host.");
        }
        return new TestWire(first, second);
    }

    /// <summary>
    /// Checks every interface the host made: no error reported by a device, no frame leaked by a device
    /// whose interface was removed. Call it at the end of a test, after the registrations were disposed.
    /// </summary>
    /// <exception cref="NetDevAssertionException">Something was wrong; the message says everything found.</exception>
    public void AssertClean()
    {
        var problems = new List<string>();
        foreach (var link in AllLinks)
        {
            problems.AddRange(link.Errors.Select(error => $"{link.Name}: device error: {error}"));
            if (link.IsRemoved && link.Device is { } device)
            {
                problems.AddRange(SkBuffAccounting.FindLeaks(device).Select(report => $"{link.Name}: {report}"));
            }
        }
        if (problems.Count > 0)
        {
            throw new NetDevAssertionException(string.Join(Environment.NewLine, problems));
        }
    }

    internal void Remove(TestLink link)
    {
        lock (_lock)
        {
            if (_links.TryGetValue(link.Name, out var current) && current == link)
            {
                _links.Remove(link.Name);
            }
        }
    }

    /// <summary>Files <paramref name="link"/> under <paramref name="name"/> (renamed by "others"); the kernel refuses a name in use.</summary>
    internal void Rename(TestLink link, string name)
    {
        lock (_lock)
        {
            if (_links.ContainsKey(name))
            {
                throw new NetDevException(Errno.EEXIST, "RTM_NEWLINK", link.Name, "an interface with this name already exists");
            }
            _links.Remove(link.Name);
            _links.Add(name, link);
        }
    }

    private string ResolveName(string template)
    {
        var marker = template.IndexOf("%d", StringComparison.Ordinal);
        if (marker < 0)
        {
            if (_links.ContainsKey(template))
            {
                throw new NetDevException(Errno.EEXIST, "RTM_NEWLINK", template, "an interface with this name already exists");
            }
            return template;
        }
        for (var number = 0; ; number++)
        {
            var name = string.Concat(template.AsSpan(0, marker), number.ToString(System.Globalization.CultureInfo.InvariantCulture), template.AsSpan(marker + 2));
            if (name.Length > 15)
            {
                throw new NetDevException(Errno.EINVAL, "RTM_NEWLINK", template, "no free interface name of at most 15 characters fits the template");
            }
            if (!_links.ContainsKey(name))
            {
                return name;
            }
        }
    }
}
