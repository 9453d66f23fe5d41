namespace Ctrlable.PveSim.Tests.Support;

/// <summary>Waits on a condition instead of sleeping for a guessed time: polls until it holds, failing after 20 s.</summary>
internal static class Until
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    public static Task True(Func<bool> condition, string what) => True(() => Task.FromResult(condition()), what);

    public static async Task True(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Limit;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"never came true: {what}");
            }

            await Task.Delay(10);
        }
    }
}
