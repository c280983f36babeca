using System.Runtime.Versioning;
using NetDev;
using NetDev.Linux;
using NetDevDriver;

[assembly: SupportedOSPlatform("linux")]

// Run as root (or with CAP_NET_ADMIN): the device is a real interface until Enter is pressed.
using var registration = new Registration<NetDevDriverOperations>(new LinuxHost(), txQueues: 1, rxQueues: 1, new NetDevDriverOperations());
registration.Device.Name = "netdevdrv%d";
registration.Device.Flags |= DeviceFlags.NoArp;
registration.Register();
registration.Device.BringUp();
Console.WriteLine($"{registration.Device.Name} is up; press Enter to remove it");
Console.ReadLine();
