// Shared by the test projects that wait for the kernel or a device thread; linked into each.
global using NetDev.TestSupport;

namespace NetDev.TestSupport;

public static class Wait
{
    /// <summary>Waits until <paramref name="condition"/> holds; fails the test if it never does within a generous bound (no timing is asserted).</summary>
    public static void Until(Func<bool> condition, string what, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Gave up waiting for: {what}");
            }
            Thread.Sleep(20);
        }
    }
}
