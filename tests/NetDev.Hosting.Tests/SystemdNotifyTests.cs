using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NetDev.Testing;

namespace NetDev.Hosting.Tests;

/// <summary>The sd_notify datagram protocol, against a Unix datagram socket of the test's own standing for systemd.</summary>
public sealed class SystemdNotifyTests
{
    [Fact]
    public async Task ReadyComesOnceEveryDeviceIsUpAndStoppingWhenTheHostStops()
    {
        using var manager = ServiceManager.Bind(abstractName: false);
        var devices = new TestHost();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton(new SystemdNotifier(manager.Address));
        foreach (var name in new[] { "a%d", "b%d" })
        {
            builder.Services.AddNetDevice(_ => new SinkDriver(), options =>
            {
                options.Name = name;
                options.Host = _ => devices;
                options.Control = new() { Enabled = false };
            });
        }
        using var host = builder.Build();

        await host.StartAsync(TestContext.Current.CancellationToken);
        Assert.Equal("READY=1", manager.Receive());
        var running = host.Services.GetServices<IHostedService>().OfType<NetDeviceService<SinkDriver>>().ToList();
        Assert.Equal(2, running.Count);
        Assert.All(running, service => Assert.True(service.Device!.IsUp));

        await host.StopAsync(TestContext.Current.CancellationToken);
        Assert.Equal("STOPPING=1", manager.Receive());
        Assert.False(manager.HasMore());
    }

    [Fact]
    public void AnAbstractSocketIsNamedWithAnAt()
    {
        using var manager = ServiceManager.Bind(abstractName: true);
        var notifier = new SystemdNotifier(manager.Address);

        Assert.True(notifier.Notify("READY=1\nSTATUS=up"));
        Assert.Equal("READY=1\nSTATUS=up", manager.Receive());
    }

    [Fact]
    public void WithoutASocketNothingIsSentAndAGoneManagerIsNoFailure()
    {
        Assert.False(new SystemdNotifier(null).IsEnabled);
        Assert.False(new SystemdNotifier("").Notify("READY=1"));
        var gone = Path.Combine(Path.GetTempPath(), $"netdev-notify-{Guid.NewGuid():N}");
        Assert.False(new SystemdNotifier(gone).Notify("READY=1"));
        Assert.Throws<ArgumentException>(() => new SystemdNotifier("relative/socket"));
    }

    /// <summary>What systemd does with NOTIFY_SOCKET: a bound Unix datagram socket that reads the service's states.</summary>
    private sealed class ServiceManager : IDisposable
    {
        private readonly Socket _socket;
        private readonly string? _path;

        private ServiceManager(Socket socket, string address, string? path)
        {
            _socket = socket;
            Address = address;
            _path = path;
        }

        /// <summary>What NOTIFY_SOCKET would say: a path, or @name.</summary>
        public string Address { get; }

        public static ServiceManager Bind(bool abstractName)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified) { ReceiveTimeout = 30_000 };
            var name = $"netdev-notify-{Guid.NewGuid():N}";
            if (abstractName)
            {
                socket.Bind(new UnixDomainSocketEndPoint("\0" + name));
                return new ServiceManager(socket, "@" + name, null);
            }
            var path = Path.Combine(Path.GetTempPath(), name);
            socket.Bind(new UnixDomainSocketEndPoint(path));
            return new ServiceManager(socket, path, path);
        }

        public string Receive()
        {
            var buffer = new byte[4096];
            var length = _socket.Receive(buffer);
            return Encoding.UTF8.GetString(buffer, 0, length);
        }

        public bool HasMore() => _socket.Available > 0;

        public void Dispose()
        {
            _socket.Dispose();
            if (_path is not null)
            {
                File.Delete(_path);
            }
        }
    }
}
