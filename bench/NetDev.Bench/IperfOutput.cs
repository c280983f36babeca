using System.Text.Json;

namespace NetDev.Bench;

/// <summary>Reads what <c>iperf3 --json</c> printed: the one figure the benches take from it, or why there is none.</summary>
internal static class IperfOutput
{
    /// <summary>The receiver's bits per second; a <see cref="BenchException"/> saying why when iperf3 reported an error or printed no result.</summary>
    public static double ReceivedBitsPerSecond(string output, string linkName, string errors)
    {
        try
        {
            using var document = JsonDocument.Parse(output);
            if (document.RootElement.TryGetProperty("error", out var error))
            {
                throw new BenchException($"iperf3 over {linkName}: {error.GetString()}");
            }
            return document.RootElement.GetProperty("end").GetProperty("sum_received").GetProperty("bits_per_second").GetDouble();
        }
        catch (JsonException error)
        {
            throw new BenchException($"iperf3 over {linkName} printed no result: {error.Message} {errors}");
        }
    }
}
