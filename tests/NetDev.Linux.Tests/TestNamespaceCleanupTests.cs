using System.Diagnostics;

namespace NetDev.Linux.Tests;

/// <summary>
/// The test namespaces clean up after themselves and after runs that were killed: disposing kills what a test
/// left running inside (which <c>ip netns del</c> alone does not), and creating one sweeps the namespaces of
/// processes that no longer exist, never those of a live one.
/// </summary>
public sealed class TestNamespaceCleanupTests
{
    [Fact]
    public void DisposeKillsTheProcessesLeftInsideAndRemovesTheNamespace()
    {
        var ns = new TestNamespace();
        var name = ns.Name;
        using var sleeper = StartSleeper(name);
        try
        {
            Wait.Until(() => ProcessIdsIn(name).Contains(sleeper.Id), "the sleeper inside the namespace");

            ns.Dispose();

            Wait.Until(() => sleeper.HasExited, "the sleeper killed");
            Assert.Equal(128 + 9, sleeper.ExitCode);
            Assert.False(NamespaceExists(name), $"{name} is still under /run/netns");
            Assert.DoesNotContain(name, Shell.Run("ip", "netns list"));
        }
        finally
        {
            ns.Dispose();
            KillIfRunning(sleeper);
        }
    }

    [Fact]
    public void DisposeOfANamespaceATestDeletedItselfDoesNotThrow()
    {
        var ns = new TestNamespace();
        Shell.Run("ip", $"netns del {ns.Name}");

        ns.Dispose();

        Assert.False(NamespaceExists(ns.Name));
    }

    [Fact]
    public void TheNextCreationSweepsANamespaceWhoseProcessIsGoneWithWhatRunsInside()
    {
        var leftover = $"{KernelNamespace.Prefix}{DeadProcessId()}-{Guid.NewGuid():N}"[..20];
        Shell.Run("ip", $"netns add {leftover}");
        using var sleeper = StartSleeper(leftover);
        try
        {
            Wait.Until(() => ProcessIdsIn(leftover).Contains(sleeper.Id), "the sleeper inside the leftover namespace");

            using (new TestNamespace())
            {
                Assert.False(NamespaceExists(leftover), $"{leftover}, of a process that no longer exists, was not swept");
                Wait.Until(() => sleeper.HasExited, "the sleeper in the swept namespace killed");
            }
        }
        finally
        {
            KillIfRunning(sleeper);
            Shell.TryRun("ip", $"netns del {leftover}");
        }
    }

    [Fact]
    public void TheNextCreationLeavesTheNamespacesOfALiveProcessAndOfTheOldNameForm()
    {
        // A live process that is not this one, as another test run would be.
        using var alive = Process.Start(new ProcessStartInfo("sleep", "600") { UseShellExecute = false })!;
        var ofLiveProcess = $"{KernelNamespace.Prefix}{alive.Id}-{Guid.NewGuid():N}"[..20];
        var ofOldForm = $"{KernelNamespace.Prefix}{Guid.NewGuid():N}"[..14];
        try
        {
            Shell.Run("ip", $"netns add {ofLiveProcess}");
            Shell.Run("ip", $"netns add {ofOldForm}");

            using (new TestNamespace())
            {
                Assert.True(NamespaceExists(ofLiveProcess), $"{ofLiveProcess}, of live process {alive.Id}, was swept");
                Assert.True(NamespaceExists(ofOldForm), $"{ofOldForm}, whose creator is unknown, was swept");
            }
        }
        finally
        {
            KillIfRunning(alive);
            Shell.TryRun("ip", $"netns del {ofLiveProcess}");
            Shell.TryRun("ip", $"netns del {ofOldForm}");
        }
    }

    /// <summary>The id of a process that has ended (and been reaped): <c>true</c>, started and waited for.</summary>
    private static int DeadProcessId()
    {
        using var process = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        process.WaitForExit();
        var id = process.Id;
        Assert.False(Directory.Exists($"/proc/{id}"), $"process {id} still exists");
        return id;
    }

    private static Process StartSleeper(string ns) =>
        Process.Start(new ProcessStartInfo("ip", $"netns exec {ns} sleep 600") { UseShellExecute = false })!;

    private static int[] ProcessIdsIn(string ns) =>
        [.. Shell.Run("ip", $"netns pids {ns}").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse)];

    private static bool NamespaceExists(string ns) => File.Exists(Path.Combine("/run/netns", ns));

    private static void KillIfRunning(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill();
            process.WaitForExit();
        }
    }
}
