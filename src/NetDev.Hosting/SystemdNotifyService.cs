using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace NetDev.Hosting;

/// <summary>
/// Tells systemd (<c>Type=notify</c>) <c>READY=1</c> once the host has started, which is after every hosted
/// service's start and so after every device is up, and <c>STOPPING=1</c> when the host begins to stop.
/// Without <c>NOTIFY_SOCKET</c> it does nothing.
/// </summary>
internal sealed class SystemdNotifyService(SystemdNotifier notifier, IHostApplicationLifetime lifetime, ILogger<SystemdNotifyService> logger) : IHostedService
{
    private CancellationTokenRegistration _started;
    private CancellationTokenRegistration _stopping;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (notifier.IsEnabled)
        {
            _started = lifetime.ApplicationStarted.Register(() => Send("READY=1"));
            _stopping = lifetime.ApplicationStopping.Register(() => Send("STOPPING=1"));
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _started.Dispose();
        _stopping.Dispose();
        return Task.CompletedTask;
    }

    private void Send(string state)
    {
        if (!notifier.Notify(state))
        {
            logger.LogWarning("Could not tell the service manager {State} at {Socket}", state, notifier.Socket);
        }
    }
}
