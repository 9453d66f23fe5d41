using System.Net;
using System.Text.RegularExpressions;
using Ctrlable.Provisioner.Build;
using Ctrlable.Provisioner.Http;
using Ctrlable.Provisioner.Manifest;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Releases;

/// <summary>
/// Removes the templates of a release that is not active once no guest depends on them (SPEC §8a "Removing old
/// releases' templates"). Only what the release's build proved its own is destroyed: the template's current config must
/// still be a template carrying the build run's id in its description marker and the run's MAC address on net0.
/// </summary>
public sealed partial class TemplateRemoval(
    ReleaseRepository releases,
    ReleaseCatalog catalog,
    BuildRepository builds,
    ProxmoxClient proxmox,
    ProxmoxTasks tasks,
    IOptions<ReleasesOptions> options,
    TimeProvider time,
    ILogger<TemplateRemoval> logger)
{
    public const string InUseCode = "templates-in-use";

    /// <summary>A destroy frees the template's disks: minutes at most, like the other guest tasks (Deploy:TaskTimeoutSeconds' default).</summary>
    private static readonly TimeSpan DestroyTimeout = TimeSpan.FromMinutes(15);

    // One removal at a time: two would race on the same templates.
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>The release's recorded templates, each with its state and the guests holding its base volume; null when no such release.</summary>
    public async Task<(ReleaseTemplates? Templates, Refusal? Refusal)> GetAsync(string release, CancellationToken ct)
    {
        if (!await ExistsAsync(release, ct))
        {
            return (null, NotFound(release));
        }

        var active = await releases.GetActiveNameAsync(ct) == release;
        var removal = await releases.GetTemplatesRemovalAsync(release, ct);
        var recorded = await releases.ListOwnedTemplatesAsync(release, ct);
        var automatic = recorded.Any(t => t.IsProven) && await releases.GetSupersededAtAsync(release, ct) is { } superseded ? options.Value.TemplatesDueAt(superseded) : null;
        try
        {
            var templates = recorded.Count == 0 ? [] : await InspectAsync(release, recorded, active, ct);
            return (new ReleaseTemplates(release, active, removal.RemovedAt, removal.RemovedBy, [.. templates.Select(t => t.View)], automatic), null);
        }
        catch (Exception e) when (IsProxmoxFailure(e))
        {
            return (null, ProxmoxFailed("Cannot read the templates' guests from Proxmox", e));
        }
    }

    /// <summary>
    /// Destroys the release's templates that are proven the orchestrator's, when no guest holds any of their base volumes
    /// (all or nothing: one held template refuses the whole removal, nothing destroyed). Records that no longer point at
    /// the template the release had (VMID empty, or a foreign guest there) are forgotten; unproven ones stay, untouched.
    /// </summary>
    public async Task<(TemplatesRemovalResult? Result, Refusal? Refusal)> RemoveAsync(string release, string? actor, CancellationToken ct)
    {
        if (!await ExistsAsync(release, ct))
        {
            return (null, NotFound(release));
        }

        if (!await _gate.WaitAsync(TimeSpan.Zero, ct))
        {
            return (null, Conflict("removal-running", "A removal is running", "Templates are being removed; try again when it has finished."));
        }

        try
        {
            return await RemoveLockedAsync(release, actor ?? "unknown", ct);
        }
        catch (Exception e) when (IsProxmoxFailure(e))
        {
            // What was destroyed before is forgotten already; the rest stays as it was.
            logger.LogWarning("Removing the templates of {Release} stopped: {Error}", release, e.Message);
            return (null, ProxmoxFailed("Proxmox failed while removing templates", e));
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<(TemplatesRemovalResult?, Refusal?)> RemoveLockedAsync(string release, string actor, CancellationToken ct)
    {
        if (await releases.GetActiveNameAsync(ct) == release)
        {
            return (null, Conflict("release-active", "The active release keeps its templates",
                $"{release} is the active release: deploys clone its templates. Build another release first; its templates can be removed once it is not active."));
        }

        if ((await builds.ListAsync(release, 1, ct)).Select(BuildRepository.ToSummary).FirstOrDefault() is { State: BuildState.Running } running)
        {
            return (null, Conflict("build-running", "A build of this release is running",
                $"Build {running.Id} of {release} is running; remove its templates once it has ended."));
        }

        var recorded = await releases.ListOwnedTemplatesAsync(release, ct);
        if (recorded.Count == 0)
        {
            var removal = await releases.GetTemplatesRemovalAsync(release, ct);
            return (new TemplatesRemovalResult(release, removal.RemovedAt, []), null);
        }

        var cloning = await releases.ListCloningInstancesAsync(release, ct);
        if (cloning.Count > 0)
        {
            return (null, Conflict("deploy-running", "Guests are being cloned from these templates",
                $"Being deployed from {release}: {string.Join(", ", cloning.Select(i => $"{i.Hostname ?? $"instance {i.Id}"} (from template {i.TemplateVmid})"))}. Try again when the deploy has ended."));
        }

        var inspected = await InspectAsync(release, recorded, active: false, ct);
        var held = inspected.Where(t => t.View.Holders.Count > 0).ToList();
        if (held.Count > 0)
        {
            return (null, InUse(held.Select(t => t.View)));
        }

        var results = new List<TemplateRemovalResult>();
        foreach (var t in inspected)
        {
            var row = t.Row;
            switch (t.View.State)
            {
                case RecordedTemplateState.Unproven:
                    results.Add(new TemplateRemovalResult(row.Name, row.Vmid, TemplateRemovalOutcome.Kept, t.View.Reason!));
                    continue;
                case RecordedTemplateState.Gone or RecordedTemplateState.Foreign:
                    await releases.ForgetRemovedTemplateAsync(release, row.Name, row.Vmid, time.GetUtcNow(), actor, ct);
                    results.Add(new TemplateRemovalResult(row.Name, row.Vmid, TemplateRemovalOutcome.Forgotten, t.View.Reason!));
                    continue;
            }

            // Checked again right before: the proof on the live config, and no holder appeared meanwhile.
            var kind = KindOf(row);
            var config = await ReadConfigAsync(row.Node, kind, (int)row.Vmid, ct);
            if (config is null || ProofProblem(release, row, config) is not null)
            {
                results.Add(new TemplateRemovalResult(row.Name, row.Vmid, TemplateRemovalOutcome.Kept,
                    $"VMID {row.Vmid} changed while the removal ran: left alone."));
                continue;
            }

            var upid = await proxmox.DestroyTemplateAsync(row.Node, kind, (int)row.Vmid, ct);
            var outcome = await tasks.WaitAsync(row.Node, upid, DestroyTimeout, ct);
            if (!outcome.Succeeded)
            {
                var said = outcome.Describe();
                logger.LogWarning("Removing template {Vmid} ({Template}) of {Release} failed: {Error}", row.Vmid, row.Name, release, said);
                if (said.Contains("is still in use by linked clone", StringComparison.Ordinal))
                {
                    // Proxmox looks at every volume on the storage, also those of guests the token cannot see.
                    return (null, new Refusal(StatusCodes.Status409Conflict, "Templates are in use",
                        $"Proxmox refused to destroy template {row.Vmid} ({row.Name}): {said.Replace("TASK ERROR: ", "", StringComparison.Ordinal)} A guest the orchestrator cannot see holds its base volume; nothing of it was removed.",
                        Extensions: new Dictionary<string, object?> { ["code"] = InUseCode, ["removed"] = results }));
                }

                return (null, new Refusal(StatusCodes.Status502BadGateway, "Proxmox failed to remove a template",
                    $"Destroying template {row.Vmid} ({row.Name}) failed: {said}",
                    Extensions: new Dictionary<string, object?> { ["code"] = "proxmox-failed", ["removed"] = results }));
            }

            await releases.ForgetRemovedTemplateAsync(release, row.Name, row.Vmid, time.GetUtcNow(), actor, ct);
            logger.LogInformation("Removed template {Vmid} ({Template}) of release {Release}", row.Vmid, row.Name, release);
            results.Add(new TemplateRemovalResult(row.Name, row.Vmid, TemplateRemovalOutcome.Removed, $"{(kind == GuestKind.Lxc ? "CT" : "VM")} {row.Vmid} destroyed."));
        }

        var after = await releases.GetTemplatesRemovalAsync(release, ct);
        return (new TemplatesRemovalResult(release, after.RemovedAt, results), null);
    }

    private async Task<bool> ExistsAsync(string release, CancellationToken ct) =>
        catalog.Find(release) is not null || (await releases.ListAsync(ct)).Any(r => r.Name == release);

    private sealed record Inspected(OwnedTemplate Row, ReleaseTemplate View);

    /// <summary>Reads every guest of the cluster the token sees once, then judges each recorded template.</summary>
    private async Task<IReadOnlyList<Inspected>> InspectAsync(string release, IReadOnlyList<OwnedTemplate> recorded, bool active, CancellationToken ct)
    {
        var guests = (await proxmox.GetClusterResourcesAsync("vm", ct)).Where(g => g.Vmid is not null && g.Node is not null && g.Kind is not null).ToList();
        var volumes = new Dictionary<int, IReadOnlyList<string>>();
        var result = new List<Inspected>();
        foreach (var row in recorded)
        {
            var (state, reason, config) = await JudgeAsync(release, row, guests, ct);
            var holders = new List<BaseVolumeHolder>();
            if (state == RecordedTemplateState.Present)
            {
                var bases = Volumes(config!).Select(BaseVolume.Of).OfType<BaseVolume>().Where(b => b.Vmid == row.Vmid).ToList();
                foreach (var guest in guests.Where(g => g.Vmid != row.Vmid))
                {
                    if (!volumes.TryGetValue(guest.Vmid!.Value, out var own))
                    {
                        own = await ReadConfigAsync(guest.Node!, guest.Kind!.Value, guest.Vmid.Value, ct) is { } c ? Volumes(c) : [];
                        volumes[guest.Vmid.Value] = own;
                    }

                    if (own.FirstOrDefault(v => bases.Any(b => b.IsHeldBy(v))) is { } volume)
                    {
                        holders.Add(new BaseVolumeHolder(guest.Vmid.Value, guest.Name, guest.Node, guest.Type, volume));
                    }
                }
            }

            if (state == RecordedTemplateState.Present && holders.Count > 0)
            {
                reason = $"Its base volume is held by {Names(holders)}: remove or re-create those guests first.";
            }
            else if (state == RecordedTemplateState.Present && active)
            {
                reason = "The active release keeps its templates.";
            }

            var removable = state == RecordedTemplateState.Present && holders.Count == 0 && !active;
            result.Add(new Inspected(row, new ReleaseTemplate(row.Name, row.Kind, row.Vmid, row.Node, state, removable, removable ? null : reason, holders)));
        }

        return result;
    }

    private async Task<(RecordedTemplateState, string?, IReadOnlyDictionary<string, string>?)> JudgeAsync(
        string release, OwnedTemplate row, IReadOnlyList<ClusterResource> guests, CancellationToken ct)
    {
        var guest = guests.FirstOrDefault(g => g.Vmid == row.Vmid);
        if (guest is null)
        {
            return (RecordedTemplateState.Gone, $"VMID {row.Vmid} holds no guest any more: only the record is forgotten.", null);
        }

        if (!row.IsProven)
        {
            return (RecordedTemplateState.Unproven,
                $"Not proven ours: no proof of ownership was recorded for VMID {row.Vmid} (built before this version, or kept by a build whose host ledger did not list it), so the orchestrator never removes it, not even automatically; remove it by hand in Proxmox once no guest needs it.", null);
        }

        var config = guest.Kind == KindOf(row) && guest.Node is { } node ? await ReadConfigAsync(node, guest.Kind.Value, (int)row.Vmid, ct) : null;
        if (config is null || ProofProblem(release, row, config) is not null)
        {
            return (RecordedTemplateState.Foreign,
                $"VMID {row.Vmid} holds a guest that is not the template build {row.BuildId} created (it lacks that build's run id and MAC address): it is left alone and only the record is forgotten.", null);
        }

        return (RecordedTemplateState.Present, null, config);
    }

    /// <summary>Why the config is not the template the build's run created; null when it is (template, MAC on net0, marker with the run id).</summary>
    internal static string? ProofProblem(string release, OwnedTemplate row, IReadOnlyDictionary<string, string> config)
    {
        if (config.GetValueOrDefault("template") != "1")
        {
            return "not a template";
        }

        var net0 = config.GetValueOrDefault("net0") ?? "";
        if (!MacOf().Matches(net0).Any(m => string.Equals(m.Groups[1].Value, row.Mac, StringComparison.OrdinalIgnoreCase)))
        {
            return "net0 lacks the build's MAC address";
        }

        var description = string.Join(' ', (config.GetValueOrDefault("description") ?? "").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        var marker = $"ctrlable-build release={release} template={row.Name} ";
        return description.StartsWith(marker, StringComparison.Ordinal) && $" {description} ".Contains($" run={row.RunId} ", StringComparison.Ordinal)
            ? null
            : "its description lacks the build's marker and run id";
    }

    private async Task<IReadOnlyDictionary<string, string>?> ReadConfigAsync(string node, GuestKind kind, int vmid, CancellationToken ct)
    {
        try
        {
            return await proxmox.GetGuestConfigAsync(node, kind, vmid, ct);
        }
        catch (ProxmoxException e) when (e.IsNotFound || e.Status == HttpStatusCode.Forbidden)
        {
            // Gone meanwhile, or not the token's to read: it holds nothing the orchestrator can name.
            return null;
        }
    }

    /// <summary>The volume ids of a guest's disks (drives, mount points, unused): "storage:volname", without options; no paths, no CD-ROMs.</summary>
    internal static IReadOnlyList<string> Volumes(IReadOnlyDictionary<string, string> config) =>
        [.. config
            .Where(c => DiskKey().IsMatch(c.Key) && !c.Value.Contains("media=cdrom", StringComparison.Ordinal))
            .Select(c => c.Value.Split(',')[0])
            .Select(v => v.StartsWith("volume=", StringComparison.Ordinal) ? v["volume=".Length..] : v)
            .Where(v => v.Contains(':', StringComparison.Ordinal) && !v.StartsWith('/') && v != "none")];

    private static string Names(IEnumerable<BaseVolumeHolder> holders) =>
        string.Join(", ", holders.Select(h => h.Name is { Length: > 0 } name ? $"{name} ({h.Vmid})" : $"VMID {h.Vmid}"));

    private static Refusal InUse(IEnumerable<ReleaseTemplate> held)
    {
        var list = held.ToList();
        return new Refusal(StatusCodes.Status409Conflict, "Templates are in use",
            "Guests are linked clones of these templates: " + string.Join("; ", list.Select(t => $"{t.Name} ({t.Vmid}) is held by {Names(t.Holders)}"))
            + ". Nothing was removed.",
            Extensions: new Dictionary<string, object?> { ["code"] = InUseCode, ["templates"] = list });
    }

    private static Refusal NotFound(string release) =>
        new(StatusCodes.Status404NotFound, "Release not found", $"There is no release '{release}' on this orchestrator.");

    private static bool IsProxmoxFailure(Exception e) => e is ProxmoxException or HttpRequestException or TimeoutException;

    // ProxmoxException's message names the call and Proxmox's answer (never a credential).
    private static Refusal ProxmoxFailed(string title, Exception e) =>
        new(StatusCodes.Status502BadGateway, title, e is HttpRequestException ? $"Proxmox could not be reached: {e.Message}" : e.Message,
            Extensions: new Dictionary<string, object?> { ["code"] = "proxmox-failed" });

    private static Refusal Conflict(string code, string title, string detail) =>
        new(StatusCodes.Status409Conflict, title, detail, Extensions: new Dictionary<string, object?> { ["code"] = code });

    private static GuestKind KindOf(OwnedTemplate row) => row.Kind == "lxc" ? GuestKind.Lxc : GuestKind.Qemu;

    [GeneratedRegex(@"^((ide|sata|scsi|virtio)\d+|efidisk0|tpmstate0|rootfs|mp\d+|unused\d+)$")]
    private static partial Regex DiskKey();

    [GeneratedRegex(@"(?:^|[,=])([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})(?=,|$)")]
    private static partial Regex MacOf();
}
