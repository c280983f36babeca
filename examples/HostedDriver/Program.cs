// A driver as a service on the generic host: the device is registered and brought up when the host starts,
// torn down when it stops (SIGTERM, SIGINT), logs through the host's logging, serves its control endpoint
// (netdev list/stats/ethtool see it), and tells systemd READY=1 once it is up. See docs/deploy.md.
//
//   dotnet run --project examples/HostedDriver -- --name hosted0              (as root: creates hosted0)
//   dotnet run --project examples/HostedDriver -- --name tap0 --attach true   (any user: attaches to a persistent TAP)
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NetDev;
using NetDev.Drivers.Dummy;
using NetDev.Hosting;

var builder = Host.CreateApplicationBuilder(args);
// One line per entry, with syslog priorities when systemd sends the output to the journal.
builder.Logging.ClearProviders().AddNetDevConsole();

var devices = builder.Configuration.GetValue("count", 1);
for (var i = 0; i < devices; i++)
{
    builder.Services.AddNetDevice(_ => new DummyDriver(), options =>
    {
        options.Configure = DummyDriver.Setup;   // dummy.c's setup: no ARP, a random address
        options.Name = builder.Configuration["name"] ?? "hosted%d";
        options.Attach = builder.Configuration.GetValue("attach", false);
        options.Queues = builder.Configuration.GetValue("queues", 1);
    });
}

using var host = builder.Build();
try
{
    await host.RunAsync();
    return 0;
}
catch (NetDevException)
{
    // The host has logged why, in one sentence (a missing privilege says how to fix it); nothing was left behind.
    return 1;
}
