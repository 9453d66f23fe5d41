using System.Diagnostics;
using System.Globalization;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.Secrets;
using Ctrlable.Provisioner.State;
using Ctrlable.PveSim.Guests;
using Dapper;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Demo;

/// <summary>A simulated guest's template: its type and the firstboot.env its build would have baked in.</summary>
public sealed record SimulatedTemplate(string Type, FirstBootEnvironment Environment);

/// <summary>How patient a simulated guest's first boot is (simulated guests are fast; real ones use the script's defaults).</summary>
public sealed record FirstBootScriptOptions
{
    /// <summary>The orchestrator requests the script makes before it gives up a run (FIRSTBOOT_ATTEMPTS).</summary>
    public int Attempts { get; init; } = 15;

    /// <summary>First back-off between requests; it doubles up to <see cref="MaxDelay"/>.</summary>
    public TimeSpan Delay { get; init; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Runs after the first that failed with status 1, as systemd's Restart=on-failure would start them.</summary>
    public int Restarts { get; init; } = 2;

    public TimeSpan RestartDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>One run's limit; the script is killed beyond it.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Profiling: when set, each run is traced (bash <c>set -x</c>, every line with <c>$EPOCHREALTIME</c> and its line
    /// number) into <c>&lt;TraceDirectory&gt;/&lt;vmid&gt;.trace</c> (the benchmark's <c>BENCH_TRACE_FIRSTBOOT</c>).
    /// </summary>
    public string? TraceDirectory { get; init; }
}

/// <summary>
/// The emulator's first boot of a guest cloned from a Ctrlable template: runs the real
/// <c>host/firstboot/ctrlable-firstboot.sh</c> in a per-guest sandbox root (<see cref="SimulatedGuestImage"/>), with
/// curl bound to the guest's address (127.0.10.x in the emulator), so the orchestrator sees the call come from the
/// address Proxmox reports for the guest. Demo mode, tests and benchmarks plug it in through
/// <c>PveSimOptions.BootBehaviour</c>. A run that ends with status 1 is restarted like the systemd unit would; the
/// last failure line lands in the emulator's BootLog.
/// </summary>
public sealed class FirstBootScriptBehaviour(
    string sandboxDirectory,
    string scriptDirectory,
    Func<GuestBootContext, CancellationToken, Task<SimulatedTemplate?>> resolveTemplate,
    ILogger logger,
    FirstBootScriptOptions? options = null) : IGuestBootBehaviour, IGuestDiskSnapshots, IGuestUpdateFaults
{
    private readonly FirstBootScriptOptions _options = options ?? new();

    /// <summary>
    /// Templates as this orchestrator knows them: the guest's template VMID is looked up among the built templates
    /// (any release), LXC only (VM templates have no first-boot script), with the firstboot.env of its release.
    /// </summary>
    public static Func<GuestBootContext, CancellationToken, Task<SimulatedTemplate?>> TemplatesOf(IServiceProvider services) => async (context, ct) =>
    {
        if (context.TemplateVmid is not { } vmid)
        {
            return null;
        }

        const string sql = "SELECT release AS Release, name AS Name FROM templates WHERE vmid = @vmid AND kind = 'lxc' ORDER BY built_at DESC LIMIT 1;";
        TemplateRef? template;
        await using (var connection = await services.GetRequiredService<Database>().OpenAsync(ct))
        {
            template = await connection.QuerySingleOrDefaultAsync<TemplateRef>(new CommandDefinition(sql, new { vmid = (long)vmid }, cancellationToken: ct));
        }

        if (template is null)
        {
            return null;
        }

        var environment = await services.GetRequiredService<FirstBootEnvironments>().ForTemplateAsync(template.Release, template.Name, ct)
            ?? throw new InvalidOperationException(
                $"Guest {context.Vmid} cannot run its first boot: release {template.Release} has no first-boot secret, or the orchestrator has no https:// URL for guests (Provision:GuestUrl).");
        return new SimulatedTemplate(template.Name, environment);
    };

    /// <summary>Where demo mode keeps its simulated guests' sandboxes: <c>&lt;data&gt;/simulated-guests</c> (0700).</summary>
    public static string SandboxDirectoryOf(IServiceProvider services) =>
        DataDirectories.Create(services.GetRequiredService<IOptions<StorageOptions>>().Value, "simulated-guests");

    public async Task RunFirstBootAsync(GuestBootContext context, CancellationToken cancellationToken)
    {
        if (OperatingSystem.IsWindows())
        {
            logger.LogWarning("Simulated guest {Vmid}: the first-boot script needs bash; skipped on Windows", context.Vmid);
            return;
        }

        var template = await resolveTemplate(context, cancellationToken);
        if (template is null)
        {
            logger.LogDebug("Simulated guest {Vmid} ({Hostname}) is not a clone of a Ctrlable template: no first boot", context.Vmid, context.Hostname);
            return;
        }

        var guest = SimulatedGuestImage.Create(
            Path.Combine(sandboxDirectory, context.Vmid.ToString(CultureInfo.InvariantCulture)),
            template.Type, context.Hostname, context.TemplateVmid ?? 0, template.Environment, scriptDirectory);
        for (var run = 0; ; run++)
        {
            var (status, lastError) = await RunScriptAsync(guest, context, cancellationToken);
            if (status == 0)
            {
                logger.LogInformation("Simulated guest {Vmid} ({Hostname}) finished its first boot", context.Vmid, context.Hostname);
                return;
            }

            if (status != 1 || run >= _options.Restarts)
            {
                throw new FirstBootScriptException(context.Vmid, status, lastError);
            }

            await Task.Delay(_options.RestartDelay, cancellationToken);
        }
    }

    /// <summary>
    /// What the guest's <c>ctrlable-broker-follow.timer</c> would start next (the emulator runs no timers): the script its
    /// first boot ran, with <c>--follow-broker</c>, in the guest's sandbox, from <paramref name="address"/> (its address
    /// now). Returns the exit status and the last line on stderr.
    /// </summary>
    public async Task<(int Status, string? LastError)> RunBrokerFollowAsync(int vmid, System.Net.IPAddress address, CancellationToken ct)
    {
        var guest = SimulatedGuestImage.Open(Path.Combine(sandboxDirectory, vmid.ToString(CultureInfo.InvariantCulture)));
        if (!File.Exists(guest.ScriptPath))
        {
            throw new InvalidOperationException($"Simulated guest {vmid} has no first-boot sandbox.");
        }

        return await RunScriptAsync(guest, vmid, address.ToString(), ["--follow-broker"], ct);
    }

    /// <summary>
    /// What the guest's <c>ctrlable-upgrade.timer</c> would start next (the emulator runs no timers): the script with
    /// <c>--upgrade</c>, in the guest's sandbox, from <paramref name="address"/>. Returns the exit status and the last line on stderr.
    /// </summary>
    public async Task<(int Status, string? LastError)> RunUpgradeAsync(int vmid, System.Net.IPAddress address, CancellationToken ct)
    {
        var guest = SimulatedGuestImage.Open(Path.Combine(sandboxDirectory, vmid.ToString(CultureInfo.InvariantCulture)));
        if (!File.Exists(guest.ScriptPath))
        {
            throw new InvalidOperationException($"Simulated guest {vmid} has no first-boot sandbox.");
        }

        return await RunScriptAsync(guest, vmid, address.ToString(), ["--upgrade"], ct);
    }

    /// <summary>
    /// Makes the guest's update routine fail with <paramref name="message"/> until called with null (a marker on the
    /// guest's disk, so a rollback to a snapshot taken while it was set brings it back); false when the guest has no sandbox.
    /// </summary>
    public bool FailUpdates(int vmid, string? message)
    {
        var guest = SimulatedGuestImage.Open(Path.Combine(sandboxDirectory, vmid.ToString(CultureInfo.InvariantCulture)));
        if (!File.Exists(guest.ScriptPath))
        {
            return false;
        }

        var marker = Path.Combine(guest.State, "update-fails");
        if (message is null)
        {
            File.Delete(marker);
        }
        else
        {
            Directory.CreateDirectory(guest.State);
            File.WriteAllText(marker, message + "\n");
        }

        return true;
    }

    // The sandbox is the guest's disk: a snapshot copies it aside, a rollback puts the copy back.
    public void SnapshotTaken(int vmid, string name) => CopyTree(GuestDirectory(vmid), SnapshotDirectory(vmid, name));

    public void RolledBack(int vmid, string name)
    {
        var copy = SnapshotDirectory(vmid, name);
        if (!Directory.Exists(copy))
        {
            return;
        }

        var target = GuestDirectory(vmid);
        if (Directory.Exists(target))
        {
            Directory.Delete(target, recursive: true);
        }

        CopyTree(copy, target);
    }

    public void SnapshotDeleted(int vmid, string name)
    {
        if (Directory.Exists(SnapshotDirectory(vmid, name)))
        {
            Directory.Delete(SnapshotDirectory(vmid, name), recursive: true);
        }
    }

    private string GuestDirectory(int vmid) => Path.Combine(sandboxDirectory, vmid.ToString(CultureInfo.InvariantCulture));

    private string SnapshotDirectory(int vmid, string name) => Path.Combine(sandboxDirectory, "snapshots", vmid.ToString(CultureInfo.InvariantCulture), name);

    /// <summary>Copies a directory tree as it is: links stay links (the unit's wants link, the stand-ins' links).</summary>
    private static void CopyTree(string from, string to)
    {
        if (!Directory.Exists(from))
        {
            return;
        }

        Directory.CreateDirectory(to);
        foreach (var entry in new DirectoryInfo(from).EnumerateFileSystemInfos())
        {
            var target = Path.Combine(to, entry.Name);
            if (entry.LinkTarget is { } link)
            {
                File.CreateSymbolicLink(target, link);
            }
            else if (entry is DirectoryInfo)
            {
                CopyTree(entry.FullName, target);
            }
            else
            {
                File.Copy(entry.FullName, target, overwrite: true);
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(target, File.GetUnixFileMode(entry.FullName));
                }
            }
        }
    }

    private Task<(int Status, string? LastError)> RunScriptAsync(SimulatedGuest guest, GuestBootContext context, CancellationToken ct) =>
        RunScriptAsync(guest, context.Vmid, context.Address.ToString(), [], ct);

    private async Task<(int Status, string? LastError)> RunScriptAsync(SimulatedGuest guest, int vmid, string address, IReadOnlyList<string> arguments, CancellationToken ct)
    {
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        string? trace = null;
        if (_options.TraceDirectory is { } traceDirectory)
        {
            // The trace goes to its own file (fd 9), not to stderr, whose last line is the run's error. PS4 comes from a
            // BASH_ENV file: bash ignores PS4 from the environment when run as root.
            Directory.CreateDirectory(traceDirectory);
            trace = Path.Combine(traceDirectory, vmid.ToString(CultureInfo.InvariantCulture) + ".trace");
            File.WriteAllText(Path.Combine(traceDirectory, "ps4.sh"), "PS4='+ ${EPOCHREALTIME} ${LINENO}: '\n");
            start.ArgumentList.Add("-c");
            // After the run, `times` adds the CPU time of the run and everything it started (user, system) to the trace.
            start.ArgumentList.Add("exec 9>>\"$0\"; bash -x \"$@\"; s=$?; times >&9; exit $s");
            start.ArgumentList.Add(trace);
        }

        start.ArgumentList.Add(guest.ScriptPath);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // A clean environment: nothing of the orchestrator's own (its CTRLABLE_* settings) reaches the guest.
        start.Environment.Clear();
        start.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
        start.Environment["LANG"] = "C.UTF-8";
        start.Environment["HOME"] = guest.PathOf("/root");
        foreach (var (key, value) in guest.ScriptEnvironment(address))
        {
            start.Environment[key] = value;
        }

        if (trace is not null)
        {
            start.Environment["BASH_XTRACEFD"] = "9";
            start.Environment["BASH_ENV"] = Path.Combine(_options.TraceDirectory!, "ps4.sh");
        }

        start.Environment["FIRSTBOOT_ATTEMPTS"] = _options.Attempts.ToString(CultureInfo.InvariantCulture);
        start.Environment["FIRSTBOOT_DELAY"] = _options.Delay.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
        start.Environment["FIRSTBOOT_MAX_DELAY"] = _options.MaxDelay.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);

        using var process = Process.Start(start) ?? throw new InvalidOperationException("bash did not start");
        string? lastError = null;
        var stdout = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync(CancellationToken.None) is { } line)
            {
                logger.LogDebug("Simulated guest {Vmid}: {Line}", vmid, line);
            }
        }, CancellationToken.None);
        var stderr = Task.Run(async () =>
        {
            while (await process.StandardError.ReadLineAsync(CancellationToken.None) is { } line)
            {
                lastError = line;
                logger.LogInformation("Simulated guest {Vmid}: {Line}", vmid, line);
            }
        }, CancellationToken.None);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.Timeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            await Task.WhenAll(stdout, stderr);
            ct.ThrowIfCancellationRequested();
            return (124, $"ctrlable-firstboot: killed after {_options.Timeout.TotalSeconds:0} s");
        }

        await Task.WhenAll(stdout, stderr);
        return (process.ExitCode, lastError);
    }

    private sealed record TemplateRef(string Release, string Name);
}

/// <summary>The simulated guest's first-boot script failed for good; the emulator's BootLog shows this message.</summary>
public sealed class FirstBootScriptException(int vmid, int status, string? lastError)
    : Exception($"first boot of guest {vmid} failed with status {status}: {lastError ?? "no error output"}")
{
    public int Vmid { get; } = vmid;
    public int Status { get; } = status;
}
