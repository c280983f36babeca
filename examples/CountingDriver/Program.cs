using NetDev;
using NetDev.Linux;

public sealed class CountingDriver : IDeviceOperations<CountingDriver>
{
    public TxResult StartXmit(NetDevice<CountingDriver> device, SkBuff skb)
    {
        device.CountTx(skb);   // per-queue counters, no lock or atomic
        skb.TxTimestamp();     // software transmit timestamp
        skb.Consume();         // release the frame: delivered
        return TxResult.Ok;    // the driver took the frame
    }
}

public static class Program
{
    public static void Main()
    {
        using var registration = new Registration<CountingDriver>(new LinuxHost(), txQueues: 1, rxQueues: 1, new CountingDriver());
        registration.Device.Name = "count%d";          // the kernel picks the number
        registration.Device.Flags |= DeviceFlags.NoArp;
        registration.Register();                       // the interface exists now
        registration.Device.BringUp();                 // Open, frames flow
        Console.WriteLine($"{registration.Device.Name} is up; press Enter to remove it");
        Console.ReadLine();
    }                                                  // Dispose: Stop, Uninit, interface gone
}
