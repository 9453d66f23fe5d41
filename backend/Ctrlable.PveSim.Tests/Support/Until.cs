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

    /// <summary>Polls until <paramref name="get"/> returns something, and returns it.</summary>
    public static Task<T> Value<T>(Func<T?> get, string what) where T : class => Value(() => Task.FromResult(get()), what);

    /// <inheritdoc cref="Value{T}(Func{T}, string)"/>
    public static async Task<T> Value<T>(Func<Task<T?>> get, string what) where T : class
    {
        T? value = null;
        await True(async () => (value = await get()) is not null, what);
        return value!;
    }
}
