using NetDev;
using NetDev.Examples.Echo;
using NetDev.Linux;

// As root: `dotnet run --project examples/EchoDriver`; every frame sent on echo0 comes back to it.
using var registration = new Registration<EchoDriver>(new LinuxHost(), txQueues: 1, rxQueues: 1, new EchoDriver());
registration.Device.Name = "echo%d";
registration.Device.Flags |= DeviceFlags.NoArp;
registration.Register();
registration.Device.BringUp();
Console.WriteLine($"{registration.Device.Name} is up; press Enter to remove it");
Console.ReadLine();
var stats = registration.Device.GetStats();
Console.WriteLine($"{stats.TxPackets} frames sent, {stats.RxPackets} echoed, {registration.Device.DriverData.RefusedEchoes(DropReason.QueueFull)} echoes refused (queue full)");
