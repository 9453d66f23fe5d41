using System.Text.Json;
using System.Text.Json.Nodes;
using Ctrlable.Provisioner.HomeAssistant;
using Ctrlable.Provisioner.HomeAssistant.Setup;
using Ctrlable.Provisioner.Manifest;
using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Upgrade;

/// <summary>
/// Home Assistant OS is upgraded the way it is meant to be: through its Supervisor, over Core's WebSocket command
/// <c>supervisor/api</c> with the orchestrator's admin token (an admin may call any Supervisor endpoint;
/// home-assistant/supervisor at 090ef31): <c>POST /os/update {version}</c> installs the OS into the other slot
/// (<c>os/manager.py</c> update: <c>version_pending</c>, reboot required) and <c>POST /host/reboot</c> boots it;
/// <c>POST /core/update {version, backup: false, background: true}</c> (<c>api/homeassistant.py</c> SCHEMA_UPDATE) answers
/// with Supervisor's job id at once (Core itself restarts during the update, taking the connection with it), and
/// <c>GET /jobs/{id}</c> tells whether it ended and with which error. Each pass looks first (versions, the recorded
/// requests), so a restarted orchestrator goes on without asking twice. The release's versions: the manifest's
/// <c>haos_version</c> and its base backup's Core version.
/// </summary>
public sealed class HomeAssistantUpgrade(
    UpgradeRepository upgrades,
    InstanceRepository instances,
    HomeAssistantRepository sites,
    HomeAssistantCredentials credentials,
    BaseBackupRepository baseBackups,
    Releases.BaseBackupStore store,
    ReleaseCatalog catalog,
    InstanceSteps steps,
    IOptions<UpgradeOptions> options,
    IOptions<HomeAssistantOptions> haOptions,
    TimeProvider time,
    ILogger<HomeAssistantUpgrade> logger)
{
    /// <summary>Crash-test points: Supervisor was asked for the OS update / the Core update.</summary>
    public const string OsUpdateRequested = "upgrade-ha-os-requested";
    public const string CoreUpdateRequested = "upgrade-ha-core-requested";

    public async Task ApplyAsync(InstanceRow instance, UpgradeRow upgrade, CancellationToken ct)
    {
        var targetOs = catalog.Find(upgrade.ToRelease)?.Manifest?.Templates.FirstOrDefault(t => t.Name == instance.Type)?.HaosVersion;
        var targetCore = await CoreVersionAsync(upgrade.ToRelease, ct)
            ?? throw new UpgradeFailedException($"release {upgrade.ToRelease} has no Home Assistant base backup stored, so its Core version is not known");
        var deadline = instance.DeadlineAt ?? time.GetUtcNow().AddSeconds(options.Value.HomeAssistantTimeoutSeconds);
        if (instance.DeadlineAt is null)
        {
            await instances.SetDeadlineAsync(instance.Id, deadline, ct);
        }

        var last = "not asked yet";
        while (true)
        {
            if (time.GetUtcNow() > deadline)
            {
                await instances.SetDeadlineAsync(instance.Id, null, ct);
                throw new UpgradeFailedException($"Home Assistant did not reach OS {targetOs ?? "(unchanged)"} and Core {targetCore} within {options.Value.HomeAssistantTimeoutSeconds:0} s (last: {last})");
            }

            try
            {
                if (await PassAsync(instance, (await upgrades.GetAsync(upgrade.Id, ct))!, targetOs, targetCore, ct) is { } done)
                {
                    await upgrades.SetVersionsAsync(upgrade.Id, done, ct);
                    await instances.SetDeadlineAsync(instance.Id, null, ct);
                    return;
                }
            }
            catch (HomeAssistantException ex) when (ex.IsTransient || ex.Code == "auth_invalid" && last.Contains("restart", StringComparison.Ordinal))
            {
                // Restarting (the reboot, Core's restart): look again.
                last = ex.Message;
            }

            await Task.Delay(TimeSpan.FromSeconds(options.Value.PollIntervalSeconds), time, ct);
        }
    }

    /// <summary>One look and at most one request; the installed versions (JSON) once both are the release's, else null.</summary>
    private async Task<string?> PassAsync(InstanceRow instance, UpgradeRow upgrade, string? targetOs, string targetCore, CancellationToken ct)
    {
        var url = (await sites.FindAsync(instance.Id, ct))?.Url is { } recorded ? new Uri(recorded) : throw new UpgradeFailedException("Home Assistant's address is not recorded");
        var token = await credentials.TokenAsync(instance.Id, ct) ?? throw new UpgradeFailedException("the orchestrator holds no Home Assistant token for this instance");
        await using var socket = await HomeAssistantSocket.ConnectAsync(url, token, TimeSpan.FromSeconds(haOptions.Value.RequestTimeoutSeconds), ct);

        var os = await SupervisorAsync(socket, "/os/info", "get", null, ct);
        var osVersion = Text(os, "version");
        if (targetOs is not null && osVersion != targetOs)
        {
            if (Text(os, "version_pending") != targetOs)
            {
                await steps.SayAsync(instance, $"Upgrading to {upgrade.ToRelease}: Home Assistant OS {osVersion} → {targetOs} (download and install)", ct);
                // Downloads and installs the bundle before it answers: a long call, on a connection that waits that long.
                await using (var slow = await HomeAssistantSocket.ConnectAsync(url, token, TimeSpan.FromSeconds(options.Value.HomeAssistantTimeoutSeconds), ct))
                {
                    await SupervisorAsync(slow, "/os/update", "post", new JsonObject { ["version"] = targetOs }, ct, options.Value.HomeAssistantTimeoutSeconds);
                }

                await upgrades.SetOsUpdateRequestedAsync(upgrade.Id, ct);
                await steps.PointAsync(instance.Id, OsUpdateRequested, ct);
            }

            await steps.SayAsync(instance, $"Upgrading to {upgrade.ToRelease}: restarting Home Assistant OS into {targetOs}", ct);
            logger.LogInformation("Instance {Instance}: Home Assistant OS {Version} installed, rebooting into it", instance.Id, targetOs);
            try
            {
                await SupervisorAsync(socket, "/host/reboot", "post", null, ct);
            }
            catch (HomeAssistantException ex) when (ex.IsTransient)
            {
                // The reboot takes the connection with it.
            }

            return null;
        }

        var core = Text(await SupervisorAsync(socket, "/core/info", "get", null, ct), "version");
        if (core == targetCore)
        {
            return JsonSerializer.Serialize(new Dictionary<string, string> { ["core"] = core, ["os"] = osVersion ?? "" });
        }

        if (upgrade.CoreUpdateJob is { } job)
        {
            JsonElement info;
            try
            {
                info = await SupervisorAsync(socket, $"/jobs/{job}", "get", null, ct);
            }
            catch (HomeAssistantException ex) when (!ex.IsTransient)
            {
                // Supervisor forgot the job (it restarted): ask again.
                await upgrades.SetCoreUpdateJobAsync(upgrade.Id, null, ct);
                return null;
            }

            if (!(info.TryGetProperty("done", out var done) && done.ValueKind == JsonValueKind.True))
            {
                return null;
            }

            var errors = info.TryGetProperty("errors", out var e) && e.ValueKind == JsonValueKind.Array ? e.EnumerateArray().Select(x => Text(x, "message")).OfType<string>().ToList() : [];
            throw new UpgradeFailedException(errors.Count > 0
                ? $"Home Assistant's Core update to {targetCore} failed: {errors[0]}"
                : $"Home Assistant's Core update to {targetCore} ended, but Core runs {core}");
        }

        await steps.SayAsync(instance, $"Upgrading to {upgrade.ToRelease}: Home Assistant Core {core} → {targetCore}", ct);
        var started = await SupervisorAsync(socket, "/core/update", "post", new JsonObject { ["version"] = targetCore, ["backup"] = false, ["background"] = true }, ct);
        await upgrades.SetCoreUpdateJobAsync(upgrade.Id, Text(started, "job_id") ?? throw new UpgradeFailedException("Supervisor did not say which job updates Core"), ct);
        await steps.PointAsync(instance.Id, CoreUpdateRequested, ct);
        return null;
    }

    /// <summary>
    /// The release's Home Assistant Core version: the one its base backup was made on (recorded when it was checked on
    /// upload, else read from the stored file's backup.json, <c>homeassistant.version</c>). Null when none is stored.
    /// </summary>
    public async Task<string?> CoreVersionAsync(string release, CancellationToken ct)
    {
        if ((await baseBackups.GetAsync(release, ct))?.HomeAssistantVersion is { } recorded)
        {
            return recorded;
        }

        if (await store.GetAsync(release, ct) is not { } stored)
        {
            return null;
        }

        await using var file = File.OpenRead(stored.Path);
        return (await BackupArchive.ReadBackupJsonAsync(file, ct))["homeassistant"]?["version"]?.GetValue<string>();
    }

    private static Task<JsonElement> SupervisorAsync(HomeAssistantSocket socket, string endpoint, string method, JsonObject? data, CancellationToken ct, double? timeoutSeconds = null)
    {
        var fields = new JsonObject { ["endpoint"] = endpoint, ["method"] = method };
        if (data is not null)
        {
            fields["data"] = data;
        }

        if (timeoutSeconds is { } seconds)
        {
            fields["timeout"] = (int)seconds;
        }

        return socket.CommandAsync("supervisor/api", fields, ct);
    }

    private static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
