namespace NetDev.Linux.Tests;

public static class Wait
{
    /// <summary>Waits until <paramref name="condition"/> holds; fails the test if it never does within a generous bound.</summary>
    public static void Until(Func<bool> condition, string what, int seconds = 15)
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
