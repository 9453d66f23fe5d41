namespace Ctrlable.PveSim.Hosting;

/// <summary>
/// Time for the emulator: a <see cref="TimeProvider"/> (tests may pass a fake one) and a speed factor applied
/// to every nominal duration, so a 2 s clone takes 20 ms with <c>TimingScale = 0.01</c>.
/// </summary>
public sealed class SimClock(TimeProvider time, double scale)
{
    public TimeProvider Time { get; } = time;

    public double Scale { get; } = scale;

    public DateTimeOffset Now => Time.GetUtcNow();

    public long UnixNow => Now.ToUnixTimeSeconds();

    public TimeSpan Scaled(TimeSpan nominal) => nominal * Scale;

    public Task Delay(TimeSpan nominal, CancellationToken cancellationToken = default)
    {
        var scaled = Scaled(nominal);
        return scaled <= TimeSpan.Zero ? Task.CompletedTask : Task.Delay(scaled, Time, cancellationToken);
    }

    /// <summary>
    /// Waits until <paramref name="due"/> (at once if it has passed). A wait measured from an earlier moment, such as a
    /// guest's start, so that when the waiting code gets to run does not change when it ends (a test advancing a
    /// fake clock cannot get there before the timer does).
    /// </summary>
    public async Task DelayUntil(DateTimeOffset due, CancellationToken cancellationToken = default)
    {
        var remaining = due - Now;
        if (remaining <= TimeSpan.Zero)
        {
            return;
        }

        using var armed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delay = Task.Delay(remaining, Time, armed.Token);
        // A timer counts from the clock as it is when armed: a fake clock advanced to `due` between the read above and
        // arming would leave it due later than `due`, and it would never fire. Looking again after arming closes that.
        if (Now >= due)
        {
            await armed.CancelAsync();
            cancellationToken.ThrowIfCancellationRequested();
            return;
        }

        await delay;
    }
}

/// <summary>Nominal (unscaled) durations of the emulated operations. Defaults follow real hosts.</summary>
public sealed record SimTimings
{
    /// <summary>A linked clone is a storage snapshot: 1–3 s.</summary>
    public TimeSpan LinkedCloneMin { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan LinkedCloneMax { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>A full clone copies the disk: base plus a time per GiB of disk size.</summary>
    public TimeSpan FullCloneBase { get; init; } = TimeSpan.FromSeconds(2);

    public TimeSpan FullClonePerGiB { get; init; } = TimeSpan.FromSeconds(2);

    public TimeSpan Start { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan Stop { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan Shutdown { get; init; } = TimeSpan.FromSeconds(3);

    public TimeSpan Reboot { get; init; } = TimeSpan.FromSeconds(4);

    public TimeSpan Destroy { get; init; } = TimeSpan.FromSeconds(1.5);

    public TimeSpan Template { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan ConfigTask { get; init; } = TimeSpan.FromSeconds(0.3);

    /// <summary>pct create: allocate the root disk and unpack the OS template.</summary>
    public TimeSpan CreateContainer { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>qm create: allocate (or import) the disks.</summary>
    public TimeSpan CreateVm { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Downloading an appliance template (pveam download).</summary>
    public TimeSpan TemplateDownload { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>vzdump of one guest (snapshot mode: the archive is written while it runs).</summary>
    public TimeSpan BackupPerGuest { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Restoring a backup (qmrestore / pct restore): the disks are written back.</summary>
    public TimeSpan Restore { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>Growing a disk (qm resize).</summary>
    public TimeSpan Resize { get; init; } = TimeSpan.FromSeconds(0.5);

    /// <summary>A storage snapshot of the guest's volumes (lvmthin, zfs: near instant).</summary>
    public TimeSpan Snapshot { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Rolling the volumes back to a snapshot.</summary>
    public TimeSpan Rollback { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Removing a snapshot's volumes.</summary>
    public TimeSpan DeleteSnapshot { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>From start to the guest having its IP (DHCP lease, interfaces up).</summary>
    public TimeSpan BootToNetwork { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>From start to the QEMU guest agent answering.</summary>
    public TimeSpan BootToAgent { get; init; } = TimeSpan.FromSeconds(8);

    /// <summary>A new guest shows <c>status: unknown</c> in /cluster/resources until pvestatd's next cycle.</summary>
    public TimeSpan StatusUnknownAfterCreate { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>pveproxy delays every 401 by 3 s.</summary>
    public TimeSpan UnauthorizedDelay { get; init; } = TimeSpan.FromSeconds(3);
}
