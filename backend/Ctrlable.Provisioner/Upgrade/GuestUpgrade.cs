using System.ComponentModel;
using System.Text.Json;
using Ctrlable.Provisioner.Manifest;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Upgrade;

/// <summary>What an LXC guest's upgrade timer is told to run (GET /api/provision/upgrade).</summary>
public sealed record GuestUpgradeOrder(
    string Hostname,
    [property: Description("The release the guest moves to.")] string Release,
    [property: Description("The community-scripts commit of that release: the update routine is taken from it, never from main.")] string CommunityScriptsCommit,
    [property: Description("The builder whose update_script runs (ct/<app>.sh).")] string Builder,
    [property: Description("The app version the release pins (null: the builder has none); the guest checks it is installed after the update.")] string? AppVersion,
    [property: Description("var_appversion for the update routine: the release tag of AppVersion (null: not passed).")] string? AppVersionTag);

/// <summary>The guest's report of its update (POST /api/provision/upgrade/complete, with its instance credential).</summary>
public sealed record GuestUpgradeReport(
    string Hostname,
    string Release,
    CompletionStatus Status,
    [property: Description("One line for the dealer: what went wrong, or that all is well.")] string? Message,
    [property: Description("Installed versions after the update, app -> version.")] IReadOnlyDictionary<string, string>? Versions)
{
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append($"Hostname = {Hostname}, Release = {Release}, Status = {Status}");
        return true;
    }
}

/// <summary>
/// An LXC guest updates itself (no exec into a container over Proxmox's API, and no root shell on the host at run time):
/// its upgrade timer asks the orchestrator with its instance credential whether an upgrade waits for it, runs the app's
/// update routine from the release's pinned community-scripts commit, and reports. The orchestrator waits for that report.
/// </summary>
public sealed class GuestUpgrade(
    UpgradeRepository upgrades,
    InstanceRepository instances,
    InstanceTransitions transitions,
    InstanceChanges changes,
    ReleaseRepository releases,
    ReleaseCatalog catalog,
    ProvisionService provision,
    IOptions<UpgradeOptions> options,
    TimeProvider time,
    ILogger<GuestUpgrade> logger)
{
    /// <summary>Waits for the guest's report and checks the version it installed; throws <see cref="UpgradeFailedException"/> when it failed.</summary>
    public async Task ApplyAsync(InstanceRow instance, UpgradeRow upgrade, CancellationToken ct)
    {
        var deadline = instance.DeadlineAt ?? time.GetUtcNow().AddSeconds(options.Value.GuestTimeoutSeconds);
        if (instance.DeadlineAt is null)
        {
            await instances.SetDeadlineAsync(instance.Id, deadline, ct);
        }

        while (true)
        {
            var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using (changes.Subscribe(c =>
            {
                if (c.InstanceId == instance.Id)
                {
                    changed.TrySetResult();
                }
            }))
            {
                // Subscribed first, read second: a report recorded in between is seen by one or the other.
                var current = await upgrades.GetAsync(upgrade.Id, ct) ?? throw new UpgradeFailedException("the upgrade's record is gone");
                if (current.GuestStatus is { } status)
                {
                    await instances.SetDeadlineAsync(instance.Id, null, ct);
                    await CheckReportAsync(instance, current, status, ct);
                    return;
                }

                var left = deadline - time.GetUtcNow();
                if (left <= TimeSpan.Zero)
                {
                    await instances.SetDeadlineAsync(instance.Id, null, ct);
                    throw new UpgradeFailedException($"the guest did not report its update within {options.Value.GuestTimeoutSeconds:0} s (its upgrade timer asks every 2 minutes; is the guest running and can it reach the orchestrator?)");
                }

                try
                {
                    await changed.Task.WaitAsync(left, time, ct);
                }
                catch (TimeoutException)
                {
                    // Looked at again above, then given up.
                }
            }
        }
    }

    private async Task CheckReportAsync(InstanceRow instance, UpgradeRow upgrade, string status, CancellationToken ct)
    {
        if (status != "ok")
        {
            throw new UpgradeFailedException($"the guest's update failed: {upgrade.GuestMessage ?? "no message"}");
        }

        var reported = upgrade.GuestVersions is { } json ? JsonSerializer.Deserialize<Dictionary<string, string>>(json) ?? [] : [];
        var template = (await releases.ListTemplatesAsync(upgrade.ToRelease, ct)).FirstOrDefault(t => t.Name == instance.Type);
        if (template?.AppVersion is { } expected && AppKey(instance.Type) is { } app && reported.GetValueOrDefault(app) != expected)
        {
            throw new UpgradeFailedException($"the guest reports {app} {reported.GetValueOrDefault(app) ?? "(none)"} after its update, but release {upgrade.ToRelease} pins {expected}");
        }
    }

    /// <summary>The key of the app's version in the guest's report (host/firstboot installed_versions).</summary>
    internal static string? AppKey(string type) => type switch
    {
        TemplateTypes.Zigbee2Mqtt => "zigbee2mqtt",
        TemplateTypes.ZwaveJs => "zwave-js-ui",
        _ => null,
    };

    // --- The guest's side (provision endpoints) ---------------------------------------------------

    /// <summary>The guest's upgrade, when one waits for it (null: nothing to do, the common answer of its timer).</summary>
    public async Task<(GuestUpgradeOrder? Order, ProvisionResult? Refused)> OrderAsync(string hostname, string credential, System.Net.IPAddress? caller, CancellationToken ct)
    {
        var (instanceId, refused) = await provision.AuthenticateGuestAsync(hostname, credential, caller, ct);
        if (instanceId is not { } id)
        {
            return (null, refused);
        }

        if (await instances.GetAsync(id, ct) is not { State: InstanceStates.Upgrading } instance
            || await upgrades.LatestAsync(id, ct) is not { FinishedAt: null, Step: UpgradeSteps.Apply, GuestStatus: null } upgrade)
        {
            return (null, null);
        }

        var release = (await releases.ListAsync(ct)).FirstOrDefault(r => r.Name == upgrade.ToRelease);
        var template = (await releases.ListTemplatesAsync(upgrade.ToRelease, ct)).FirstOrDefault(t => t.Name == instance.Type);
        if (release?.CommunityScriptsCommit is not { } commit || template is null)
        {
            return (null, null);
        }

        if (catalog.Find(upgrade.ToRelease)?.Manifest?.Templates.FirstOrDefault(t => t.Name == instance.Type)?.Builder is not { } builder)
        {
            return (null, null);
        }

        var tag = template.AppVersion is { } version ? UpstreamBuilders.Find(commit, builder)?.TagFor(version) ?? version : null;
        await transitions.SayAsync(id, [InstanceStates.Upgrading], $"Upgrading to {upgrade.ToRelease}: the guest fetched its update", ct);
        logger.LogInformation("Instance {Instance} ({Hostname}) fetched its upgrade to {Release}", id, hostname, upgrade.ToRelease);
        return (new GuestUpgradeOrder(hostname, upgrade.ToRelease, commit, builder, template.AppVersion, tag), null);
    }

    /// <summary>Records the guest's report; false (nothing recorded) when no upgrade to that release waits for one.</summary>
    public async Task<(bool Recorded, ProvisionResult? Refused)> ReportAsync(GuestUpgradeReport report, string credential, System.Net.IPAddress? caller, CancellationToken ct)
    {
        var (instanceId, refused) = await provision.AuthenticateGuestAsync(report.Hostname, credential, caller, ct);
        if (instanceId is not { } id)
        {
            return (false, refused);
        }

        if (await upgrades.LatestAsync(id, ct) is not { FinishedAt: null } upgrade || upgrade.ToRelease != report.Release)
        {
            return (false, null);
        }

        var status = report.Status == CompletionStatus.Ok ? "ok" : "failed";
        var versions = JsonSerializer.Serialize(report.Versions ?? new Dictionary<string, string>());
        if (!await upgrades.SetGuestReportAsync(upgrade.Id, status, report.Message, versions, ct))
        {
            return (false, null);
        }

        // Publishes a change of the instance: the waiting step reads the report.
        await transitions.SayAsync(id, [InstanceStates.Upgrading], $"Upgrading to {upgrade.ToRelease}: the guest reports its update {status}", ct);
        return (true, null);
    }
}
