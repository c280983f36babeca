using System.Buffers.Binary;
using System.CommandLine;
using NetDev.Control;

namespace NetDev.Cli.Commands;

/// <summary>
/// <c>netdev capture IFNAME [-c N] [-w FILE] [--drops]</c>: the frames a running device's driver sees, each way, as
/// pcapng on standard output or in FILE (<c>netdev capture X | tshark -r -</c>), until SIGINT, SIGTERM or N frames;
/// with <c>--drops</c> the frames dropped too, their reason as a packet comment. The capture runs in the device's
/// process, through its control endpoint, and detaches when this command goes.
/// </summary>
internal static class CaptureCommand
{
    public static Command Create()
    {
        var device = DeviceArgument.Create();
        var count = new Option<int?>("--count", "-c")
        {
            Description = "Stop after N frames.",
            HelpName = "N",
        };
        count.Validators.Add(result =>
        {
            if (result.GetValue(count) is < 1)
            {
                result.AddError("--count takes a number of frames, at least 1.");
            }
        });
        var file = new Option<string?>("--write", "-w")
        {
            Description = "Write the pcapng to FILE instead of standard output.",
            HelpName = "FILE",
        };
        var drops = new Option<bool>("--drops")
        {
            Description = "Capture the frames the device drops too, with the reason as a packet comment.",
        };
        var command = new Command("capture", "Capture the frames a running NetDev device's driver sends and receives, as pcapng.")
        {
            device,
            count,
            file,
            drops,
        };
        command.SetAction(parseResult => Run(parseResult.GetValue(device)!, parseResult.GetValue(count), parseResult.GetValue(file), parseResult.GetValue(drops)));
        return command;
    }

    private static int Run(string name, int? count, string? path, bool drops)
    {
        using var termination = new TerminationSignal(Console.Error);
        using var client = ControlPlane.Connect(name, Console.Error);
        if (client is null)
        {
            return ExitCodes.Failure;
        }
        Stream output;
        try
        {
            output = path is null ? Console.OpenStandardOutput() : File.Create(path);
        }
        catch (Exception failure) when (failure is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"netdev: cannot write {path}: {failure.Message}");
            return ExitCodes.Failure;
        }
        using (output)
        {
            ControlStream stream;
            try
            {
                stream = client.OpenCapture(drops);
            }
            catch (ControlException failure)
            {
                Console.Error.WriteLine($"netdev: {failure.Message}");
                return ExitCodes.Failure;
            }
            var session = new Session(stream, output, count);
            using var stopOnSignal = termination.Token.Register(session.Stop);
            return session.Copy(client.Endpoint.DisplayName);
        }
    }

    /// <summary>
    /// Copies the capture block by block, so that a stop never cuts a block: frames past <c>-c N</c> (what the ring
    /// still held) are left out, the statistics block is kept.
    /// </summary>
    /// <remarks><b>Invariants.</b> <c>_stopped</c> goes from 0 to 1 once; <c>stop</c> is sent to the endpoint once.</remarks>
    private sealed class Session(ControlStream stream, Stream output, int? count)
    {
        private int _stopped;

        public void Stop()
        {
            if (Interlocked.Exchange(ref _stopped, 1) != 0)
            {
                return;
            }
            try
            {
                stream.Stop();
            }
            catch (ControlException)
            {
                // The endpoint is gone already: the copy ends on its own.
            }
        }

        public int Copy(string device)
        {
            var written = 0L;
            long? lost = null;
            var header = new byte[PcapNg.BlockHeaderLength];
            var block = new byte[64 << 10];
            try
            {
                while (ReadWhole(header))
                {
                    var type = BinaryPrimitives.ReadUInt32LittleEndian(header);
                    var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4));
                    if (length < 12 || length > 16 << 20)
                    {
                        Console.Error.WriteLine($"netdev: {device} sent a block of {length} bytes; that is not pcapng");
                        return ExitCodes.Failure;
                    }
                    if (block.Length < length)
                    {
                        block = new byte[length];
                    }
                    header.CopyTo(block, 0);
                    if (!ReadWhole(block.AsSpan(PcapNg.BlockHeaderLength, length - PcapNg.BlockHeaderLength)))
                    {
                        break;
                    }
                    if (type == PcapNg.EnhancedPacketType)
                    {
                        if (written == count)
                        {
                            continue;
                        }
                        written++;
                    }
                    else if (type == PcapNg.InterfaceStatisticsType)
                    {
                        lost = PcapNg.ReadLost(block.AsSpan(0, length));
                    }
                    output.Write(block, 0, length);
                    // Each block as it comes, so that a reader on a pipe (tshark -r -) sees frames as they flow.
                    output.Flush();
                    if (written == count)
                    {
                        Stop();
                    }
                }
            }
            catch (IOException failure) when (Volatile.Read(ref _stopped) == 0 && failure.InnerException is not System.Net.Sockets.SocketException)
            {
                // The reader of the output went away (a closed pipe): as tcpdump, stop quietly.
                Stop();
                return ExitCodes.Success;
            }
            catch (IOException failure)
            {
                Console.Error.WriteLine($"netdev: {failure.Message}");
                return ExitCodes.Failure;
            }
            if (Volatile.Read(ref _stopped) == 0 || lost is null)
            {
                Console.Error.WriteLine($"netdev: {device} ended the capture (the device went away); {written} frame(s) captured");
                return ExitCodes.Failure;
            }
            Console.Error.WriteLine(lost > 0
                ? $"netdev: {written} frame(s) captured; {lost} lost because the capture was read more slowly than the device sent them"
                : $"netdev: {written} frame(s) captured");
            return ExitCodes.Success;
        }

        /// <summary>Fills <paramref name="destination"/>; false at the stream's end.</summary>
        private bool ReadWhole(Span<byte> destination)
        {
            while (!destination.IsEmpty)
            {
                var read = stream.Read(destination);
                if (read == 0)
                {
                    return false;
                }
                destination = destination[read..];
            }
            return true;
        }
    }
}
