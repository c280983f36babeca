using NetDev.Hosting;

namespace NetDev.Testing;

/// <summary>One call of a driver operation, recorded when it returned or threw.</summary>
/// <param name="Sequence">Its position among the device's recorded calls, from 0.</param>
/// <param name="Operation">The operation: the name of its <see cref="IDeviceOperations{TSelf}"/> method, such as
/// <c>nameof(IDeviceOperations&lt;&gt;.StartXmit)</c>.</param>
/// <param name="Queue">For StartXmit, the frame's queue; for TxTimeout, the queue that timed out; otherwise −1.</param>
/// <param name="Length">For StartXmit, the frame's length when it was handed over; otherwise −1.</param>
/// <param name="Result">For StartXmit that returned, what the driver answered; otherwise <see langword="null"/>.</param>
/// <param name="Error">What the operation threw, or <see langword="null"/>.</param>
public sealed record OperationCall(long Sequence, string Operation, int Queue, int Length, TxResult? Result, Exception? Error)
{
    /// <summary>
    /// The call in a few words, for comparing sequences in a test: <c>Open</c>, <c>StartXmit(q0) Ok</c>,
    /// <c>StartXmit(q1) Busy</c>, <c>Stop threw InvalidOperationException</c>.
    /// </summary>
    public override string ToString()
    {
        var call = Queue >= 0 ? $"{Operation}(q{Queue})" : Operation;
        return Error is not null ? $"{call} threw {Error.GetType().Name}" : Result is { } result ? $"{call} {result}" : call;
    }
}

/// <summary>
/// Records every driver operation the framework calls on one device — Init, Uninit, Open, Stop, the
/// configuration operations, TxTimeout and each StartXmit, with its outcome — in the order they
/// returned, without the driver's help. Works on any host, the Linux host included.
/// </summary>
/// <remarks>
/// <para>Attach it before <see cref="Registration{TDriver}.Register"/> to see Init. Operations a driver does
/// not implement are never called (NetDev's <c>HAS_*</c> table), so they never appear.</para>
/// <para>How: a driver's operations take its own <see cref="NetDevice{TDriver}"/>, so a wrapper driver of
/// another type could not call them; instead the recorder is the device's <see cref="IOperationLog"/>
/// (<see cref="OperationLogging"/>), which the framework tells of each call. A device with no recorder pays
/// nothing per frame.
/// Until it is detached, the recorder keeps every call it saw; <see cref="Clear"/> forgets them.</para>
/// <para><b>Invariants.</b> <c>_calls</c> is read and written under its own lock; sequences are consecutive.</para>
/// </remarks>
public sealed class OperationRecorder : IOperationLog
{
    private readonly List<OperationCall> _calls = [];
    private long _next;

    private OperationRecorder(NetDevice device) => Device = device;

    /// <summary>The device whose operations are recorded.</summary>
    public NetDevice Device { get; }

    /// <summary>Every call recorded so far, in order.</summary>
    public IReadOnlyList<OperationCall> Calls
    {
        get
        {
            lock (_calls)
            {
                return [.. _calls];
            }
        }
    }

    /// <summary>
    /// Starts recording <paramref name="device"/>'s driver operations.
    /// </summary>
    /// <exception cref="InvalidOperationException">A recorder is attached to the device already.</exception>
    public static OperationRecorder Attach(NetDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        var recorder = new OperationRecorder(device);
        device.AttachOperationLog(recorder);
        return recorder;
    }

    /// <summary>The calls in a few words each (see <see cref="OperationCall.ToString"/>), for <c>Assert.Equal</c>.</summary>
    public IReadOnlyList<string> Summary() => [.. Calls.Select(call => call.ToString())];

    /// <summary>
    /// The calls in a few words each, runs of identical StartXmit results on one queue folded into one
    /// entry with a count (<c>StartXmit(q0) Ok ×100</c>), for long runs.
    /// </summary>
    public IReadOnlyList<string> FoldedSummary()
    {
        var folded = new List<string>();
        string? previous = null;
        var count = 0;
        foreach (var entry in Summary())
        {
            if (entry == previous && entry.StartsWith(nameof(IDeviceOperations<>.StartXmit), StringComparison.Ordinal))
            {
                count++;
                continue;
            }
            Flush();
            previous = entry;
            count = 1;
        }
        Flush();
        return folded;

        void Flush()
        {
            if (previous is not null)
            {
                folded.Add(count > 1 ? $"{previous} ×{count}" : previous);
            }
        }
    }

    /// <summary>How many times <paramref name="operation"/> (an <see cref="IDeviceOperations{TSelf}"/> method's name) was called.</summary>
    public int Count(string operation) => Calls.Count(call => call.Operation == operation);

    /// <summary>Forgets the calls recorded so far.</summary>
    public void Clear()
    {
        lock (_calls)
        {
            _calls.Clear();
        }
    }

    /// <summary>Stops recording; the calls recorded stay.</summary>
    public void Detach() => Device.DetachOperationLog(this);

    void IOperationLog.Record(string operation, int queue, int length, TxResult? result, Exception? error)
    {
        lock (_calls)
        {
            _calls.Add(new OperationCall(_next++, operation, queue, length, result, error));
        }
    }
}
