using System.Buffers.Binary;

namespace NetDev.Linux.Tests;

/// <summary>
/// A device gives back every descriptor it opened when it is disposed — the queues' wake eventfds, the
/// io_uring rings of its readers and of the threads that wrote batches to it — without waiting for a
/// finalizer to run.
/// </summary>
[Collection(nameof(DescriptorCountCollection))]
public sealed class DescriptorTests
{
    private const int Cycles = 100;

    [Theory]
    [InlineData(IoMode.Poll)]
    [InlineData(IoMode.IoUring)]
    public void HundredRegisterDisposeCyclesLeaveTheDescriptorCountUnchanged(IoMode mode)
    {
        using var ns = new TestNamespace();
        var host = new LinuxHost(new LinuxHostOptions { NetworkNamespace = ns.Name, IoMode = mode });
        // The first cycle opens what a process opens once (the runtime's own, the batched-write probe's).
        Cycle(host);
        var baseline = OpenDescriptors();
        var counts = new List<int>();
        for (var i = 0; i < Cycles; i++)
        {
            Cycle(host);
            counts.Add(OpenDescriptors());
        }
        // Every cycle, not only the last: a finalizer that happened to run would hide a leak at the end.
        Assert.True(counts.All(count => count <= baseline),
            $"{baseline} descriptors open after the first cycle; after each of the next {Cycles}: {string.Join(" ", counts)}");
    }

    /// <summary>
    /// Registers a two-queue device, brings it up, hands it a batch of frames from a thread of its own (as a
    /// driver's receive thread does, which gets a writer ring of its own), lets that thread end, and disposes.
    /// </summary>
    private static void Cycle(LinuxHost host)
    {
        using var registration = new Registration<RecordingDriver>(host, 2, 2, new RecordingDriver());
        registration.Device.Name = "ndfd0";
        registration.Register();
        registration.Device.BringUp();
        var device = registration.Device;
        var receiver = new Thread(() =>
        {
            var frames = new SkBuff[2];
            for (var i = 0; i < frames.Length; i++)
            {
                frames[i] = device.AllocSkb(0);
                var frame = frames[i].Put(60);
                device.MacAddress.CopyTo(frame);
                device.MacAddress.CopyTo(frame[6..]);
                BinaryPrimitives.WriteUInt16BigEndian(frame[12..], 0x88B5);
            }
            device.NetifReceiveBatch(frames);
        });
        receiver.Start();
        receiver.Join();
        Assert.Equal(2, device.GetStats().RxPackets);
    }

    private static int OpenDescriptors() => Directory.GetFileSystemEntries("/proc/self/fd").Length;
}

/// <summary>Counting the process's descriptors needs no other test opening or closing any meanwhile.</summary>
[CollectionDefinition(nameof(DescriptorCountCollection), DisableParallelization = true)]
public sealed class DescriptorCountCollection;
