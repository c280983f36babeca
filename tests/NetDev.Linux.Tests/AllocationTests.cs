using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace NetDev.Linux.Tests;

/// <summary>The packet path allocates nothing per frame once warm: measured on the queue's own thread.</summary>
public sealed class AllocationTests
{
    // Long enough for tiered compilation to settle under load: with 2,000 a batch run was seen to allocate
    // ~6 KB once in its measured part, on a busy machine, and never on a quiet one.
    private const int WarmUpFrames = 10_000;
    private const int MeasuredFrames = 20_000;

    /// <summary>
    /// Consumes frames — or, with a peer, hands them to the peer's system as the pair driver does — and
    /// reads its thread's allocation counter at the start and end of the measured run.
    /// </summary>
    private sealed class MeasuringDriver : IDeviceOperations<MeasuringDriver>
    {
        public NetDevice<MeasuringDriver>? Peer { get; set; }

        private long _frames;
        private long _allocatedAtStart;

        public long AllocatedDuringRun { get; private set; } = -1;

        public bool Done => AllocatedDuringRun >= 0;

        public TxResult StartXmit(NetDevice<MeasuringDriver> device, SkBuff skb)
        {
            if (skb.Length > 14 && BinaryPrimitives.ReadUInt16BigEndian(skb.Data[12..]) == 0x88B5)
            {
                _frames++;
                if (_frames == WarmUpFrames)
                {
                    _allocatedAtStart = GC.GetAllocatedBytesForCurrentThread();
                }
                else if (_frames == WarmUpFrames + MeasuredFrames)
                {
                    AllocatedDuringRun = GC.GetAllocatedBytesForCurrentThread() - _allocatedAtStart;
                }
            }
            device.CountTx(skb);
            skb.TxTimestamp();
            if (Peer is { } peer)
            {
                peer.NetifRx(skb);
            }
            else
            {
                skb.Consume();
            }
            return TxResult.Ok;
        }
    }

    [Theory]
    [InlineData(false, false, IoMode.Poll)]
    [InlineData(true, false, IoMode.Poll)]
    [InlineData(false, true, IoMode.Poll)]
    [InlineData(true, true, IoMode.Poll)]
    [InlineData(false, false, IoMode.IoUring)]
    [InlineData(true, false, IoMode.IoUring)]
    [InlineData(false, true, IoMode.IoUring)]
    [InlineData(true, true, IoMode.IoUring)]
    public void PacketPathAllocatesNothingPerFrame(bool offloads, bool forwardToPeer, IoMode ioMode)
    {
        using var ns = new TestNamespace();
        var host = new LinuxHost(ns.Host.Options with { IoMode = ioMode });
        var driver = new MeasuringDriver();
        using var registration = new Registration<MeasuringDriver>(host, 1, 1, driver);
        using var peer = new Registration<MeasuringDriver>(host, 1, 1, new MeasuringDriver());
        registration.Device.Name = "ndalloc0";
        peer.Device.Name = "ndalloc1";
        registration.Device.Features = offloads ? DeviceFeatures.All : DeviceFeatures.None;
        peer.Device.Features = registration.Device.Features;
        registration.Register();
        registration.Device.BringUp();
        if (forwardToPeer)
        {
            peer.Register();
            peer.Device.BringUp();
            driver.Peer = peer.Device;
        }
        var ifIndex = registration.Device.IfIndex;

        NetworkNamespace.Run(ns.Name, () =>
        {
            using var socket = new Socket(AddressFamily.Packet, SocketType.Raw, ProtocolType.Raw);
            var address = new SocketAddress(AddressFamily.Packet, 20);
            BinaryPrimitives.WriteUInt16BigEndian(address.Buffer.Span[2..], 0x88B5);
            BinaryPrimitives.WriteInt32LittleEndian(address.Buffer.Span[4..], ifIndex);
            var frame = new byte[60];
            registration.Device.MacAddress.CopyTo(frame);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x88B5);
            // Frames the kernel drops on a busy machine are made up for: send until the driver has seen enough.
            for (var i = 0; i < 10 * (WarmUpFrames + MeasuredFrames) && !driver.Done; i++)
            {
                socket.SendTo(frame, SocketFlags.None, address);
                if (i % 500 == 499)
                {
                    // Let the queue keep up, so the kernel's queue does not drop the frames being counted.
                    Thread.Sleep(1);
                }
            }
        });

        Wait.Until(() => driver.Done, "the measured frames at StartXmit", seconds: 60);
        Assert.Equal(0, driver.AllocatedDuringRun);
        if (forwardToPeer)
        {
            Assert.True(peer.Device.GetStats().RxPackets >= MeasuredFrames, "the frames did not reach the peer's system");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReceiveBatchesAllocateNothingPerFrame(bool offloads)
    {
        const int Batch = 64;
        using var ns = new TestNamespace();
        using var registration = new Registration<MeasuringDriver>(ns.Host, 1, 1, new MeasuringDriver());
        var device = registration.Device;
        device.Name = "ndalloc2";
        device.Features = offloads ? DeviceFeatures.All : DeviceFeatures.None;
        registration.Register();
        device.BringUp();
        var frame = new byte[60];
        MacAddress.Parse("02:00:00:00:00:99").CopyTo(frame);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x88B5);

        // A receive loop of its own, as a driver's: the pool bound to it, the frames array made once.
        long allocated = -1;
        Exception? failure = null;
        var loop = new Thread(() =>
        {
            try
            {
                device.Queues[0].RxPool.BindToCurrentThread();
                var batch = new SkBuff[Batch];
                void Receive(int frames)
                {
                    for (var sent = 0; sent < frames; sent += Batch)
                    {
                        for (var i = 0; i < Batch; i++)
                        {
                            batch[i] = device.AllocSkb();
                            frame.CopyTo(batch[i].Put(frame.Length));
                        }
                        device.NetifReceiveBatch(batch);
                    }
                }
                Receive(WarmUpFrames);
                var start = GC.GetAllocatedBytesForCurrentThread();
                Receive(MeasuredFrames);
                allocated = GC.GetAllocatedBytesForCurrentThread() - start;
            }
            catch (Exception error)
            {
                failure = error;
            }
        });
        loop.Start();
        loop.Join();

        Assert.Null(failure);
        Assert.Equal(0, allocated);
        Assert.True(device.Queues[0].RxPackets >= MeasuredFrames, $"only {device.Queues[0].RxPackets} frames reached the system");
    }
}
