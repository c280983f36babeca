using System.Text.Json;
using NetDev.Control;
using NetDev.Drivers.Dummy;
using NetDev.Testing;

namespace NetDev.Fuzz;

/// <summary>
/// The control endpoint's request parser on arbitrary request lines, answered for a registered dummy
/// device on the test host: whatever a client sends, the answer is one line of JSON saying ok or why not.
/// </summary>
internal static class ControlTarget
{
    // One device for every input (registering one per input would make the target slow and test the test host).
    private static readonly Lazy<ControlResponder> s_responder = new(() =>
    {
        var registration = DummyDriver.CreateRegistration(new TestHost(), "fuzz0", queues: 2);
        registration.Register();
        registration.Device.BringUp();
        return new ControlResponder(registration.Device, () => "fuzz");
    });

    /// <summary>Input: one request line, without its newline (the listener cuts lines and answers an empty one itself).</summary>
    public static void Run(ReadOnlySpan<byte> input)
    {
        var line = new FuzzInput(input).Rest;
        var newline = line.IndexOf((byte)'\n');
        line = (newline < 0 ? line : line[..newline]).TrimEnd((byte)'\r');
        if (line.IsEmpty || line.Length >= ControlProtocol.MaxRequestBytes)
        {
            return;
        }
        var answer = s_responder.Value.Answer(line);
        FuzzFailure.Check(answer.Length > 0 && answer[^1] == '\n' && answer.AsSpan().IndexOf((byte)'\n') == answer.Length - 1,
            "control: the answer is not exactly one line");
        using var document = JsonDocument.Parse(answer);
        var root = document.RootElement;
        var ok = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("ok", out var field) ? field.ValueKind : JsonValueKind.Undefined;
        FuzzFailure.Check(ok is JsonValueKind.True or JsonValueKind.False, "control: the answer has no \"ok\"");
        FuzzFailure.Check(ok == JsonValueKind.True ? root.TryGetProperty("result", out _) : root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.String,
            "control: the answer has neither a result nor an error");
    }
}
