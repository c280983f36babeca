using System.Runtime.InteropServices;

namespace NetDev.Cli;

/// <summary>
/// Catches SIGINT and SIGTERM for as long as it lives, cancelling the default of terminating the process,
/// so that a command can tear its devices down and report before it exits.
/// </summary>
/// <remarks>
/// <para>Create it before the first device exists: a signal that arrives while devices are being
/// registered is then remembered instead of killing the process with interfaces left behind.</para>
/// <para>A process started with SIGINT ignored (a background job of a non-interactive shell) keeps
/// ignoring it, as the runtime leaves an inherited SIG_IGN alone for SIGINT; SIGTERM still stops it.</para>
/// <para>A second signal does not wait for the teardown the first one started (a driver call that does not
/// return could make it last): the process says so and exits at once with <see cref="ExitCodes.Interrupted"/>.</para>
/// </remarks>
internal sealed class TerminationSignal : IDisposable
{
    private readonly ManualResetEventSlim _received = new();
    private readonly CancellationTokenSource _cancellation = new();
    private readonly PosixSignalRegistration _interrupt;
    private readonly PosixSignalRegistration _terminate;
    private readonly TextWriter _error;
    private int _signals;

    /// <param name="error">Where the forced exit of a second signal is said.</param>
    public TerminationSignal(TextWriter? error = null)
    {
        _error = error ?? Console.Error;
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    }

    /// <summary>Whether SIGINT or SIGTERM has arrived.</summary>
    public bool IsReceived => _received.IsSet;

    /// <summary>Cancelled when SIGINT or SIGTERM arrives, for work that should stop early.</summary>
    public CancellationToken Token => _cancellation.Token;

    /// <summary>Set once SIGINT or SIGTERM has arrived, to wait for together with something else.</summary>
    public WaitHandle WaitHandle => _received.WaitHandle;

    public void Dispose()
    {
        _interrupt.Dispose();
        _terminate.Dispose();
        _received.Dispose();
        _cancellation.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        if (Interlocked.Increment(ref _signals) > 1)
        {
            _error.WriteLine($"netdev: {context.Signal} again; exiting without finishing the teardown");
            _error.Flush();
            Environment.Exit(ExitCodes.Interrupted);
        }
        _received.Set();
        _cancellation.Cancel();
    }
}
