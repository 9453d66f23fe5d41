namespace Ctrlable.Provisioner.Proxmox;

public sealed record TaskOutcome(string Upid, bool Succeeded, string ExitStatus, IReadOnlyList<string> LogTail)
{
    /// <summary>One line for a user: the exit status, and the last log line when it says more.</summary>
    public string Describe() =>
        Succeeded ? "OK" : LogTail.LastOrDefault(l => l.StartsWith("TASK ERROR:", StringComparison.Ordinal)) ?? ExitStatus;
}

/// <summary>
/// Waits for Proxmox tasks (UPIDs). Most tasks here take a second or two and the next clone of a template
/// can only start when the previous one ended, so the first half minute is polled finely (at most 100 ms
/// late); after that the interval backs off to 2 s so a long full clone does not cost a request every 250 ms.
/// </summary>
public sealed class ProxmoxTasks(ProxmoxClient client, TimeProvider time)
{
    public static readonly TimeSpan FirstPoll = TimeSpan.FromMilliseconds(50);
    public static readonly TimeSpan ShortTaskPoll = TimeSpan.FromMilliseconds(100);
    public static readonly TimeSpan ShortTaskWindow = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan MaxPoll = TimeSpan.FromSeconds(2);
    private const int LogTailLines = 20;

    public async Task<TaskOutcome> WaitAsync(string node, string upid, TimeSpan timeout, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        var delay = FirstPoll;
        var started = time.GetTimestamp();
        try
        {
            while (true)
            {
                var status = await TryGetStatusAsync(node, upid, deadline.Token);
                if (status is { IsRunning: false })
                {
                    var exit = status.Exitstatus ?? "unexpected status";
                    if (status.Succeeded)
                    {
                        return new TaskOutcome(upid, true, exit, []);
                    }

                    return new TaskOutcome(upid, false, exit, await LogTailAsync(node, upid, deadline.Token));
                }

                await Task.Delay(delay, time, deadline.Token);
                var cap = time.GetElapsedTime(started) < ShortTaskWindow ? ShortTaskPoll : MaxPoll;
                delay = TimeSpan.FromTicks(Math.Min(cap.Ticks, (long)(delay.Ticks * 1.5)));
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"Proxmox task {upid} did not finish within {timeout.TotalSeconds:0} s.");
        }
    }

    private async Task<TaskStatus?> TryGetStatusAsync(string node, string upid, CancellationToken ct)
    {
        try
        {
            return await client.GetTaskStatusAsync(node, upid, ct);
        }
        catch (ProxmoxException ex) when (ex.Status == System.Net.HttpStatusCode.BadRequest && ex.Errors.ContainsKey("upid"))
        {
            // A task may not be visible for a moment right after it was started ("no such task").
            return null;
        }
    }

    private async Task<IReadOnlyList<string>> LogTailAsync(string node, string upid, CancellationToken ct)
    {
        // Proxmox pages the log; ask for a large window and keep the end.
        var lines = await client.GetTaskLogAsync(node, upid, 0, 5000, ct);
        return [.. lines.Skip(Math.Max(0, lines.Count - LogTailLines)).Select(l => l.T)];
    }
}

/// <summary>Refuses a Proxmox older than a release's <c>proxmox_min_version</c>.</summary>
public static class ProxmoxVersions
{
    public static bool IsAtLeast(string version, string minimum) =>
        Parse(version).CompareTo(Parse(minimum)) >= 0;

    public static void EnsureAtLeast(PveVersionInfo found, string minimum)
    {
        if (!IsAtLeast(found.Version, minimum))
        {
            throw new ProxmoxVersionException(found.Version, minimum);
        }
    }

    private static Version Parse(string text)
    {
        var parts = text.Split('.', '-').Take(3).Select(p => int.TryParse(p, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : 0).ToList();
        while (parts.Count < 3)
        {
            parts.Add(0);
        }

        return new Version(parts[0], parts[1], parts[2]);
    }
}
