using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.HaSim.Backups;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Demo;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Deploy;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Upgrade;

/// <summary>
/// A demo host (the emulator in-process) with a project deployed from release 2026.06 (Home Assistant and Z-Wave JS UI),
/// then release 2026.07 published and activated as a build would: its manifest (Z-Wave JS UI 11.20.0, Home Assistant OS
/// 17.2), its templates recorded as built (the emulator's templates stand in for both releases'), and its base backup made
/// on Home Assistant Core 2025.5.0.
/// </summary>
internal sealed class UpgradeSite : IDisposable
{
    public const string From = "2026.06";
    public const string To = "2026.07";
    public const string ZwaveJsVersion = "11.20.0";
    public const string OsVersion = "17.2";
    public const string CoreVersion = "2025.5.0";

    private readonly string _releases;

    private UpgradeSite(ProvisionerApp app, string releases, HttpClient client)
    {
        App = app;
        _releases = releases;
        Client = client;
    }

    public ProvisionerApp App { get; }

    public HttpClient Client { get; }

    public long Project { get; private set; }

    public SimulatedProxmoxHost Host => App.Service<SimulatedProxmoxHost>();

    /// <summary>The demo host with the project deployed; <paramref name="nodes"/> is Simulator:Nodes (a cluster, "pve,pve2"), none: the one node.</summary>
    public static async Task<UpgradeSite> StartAsync(string name, string? nodes = null)
    {
        var releases = TempDirectory.Create("upgrade-releases");
        File.Copy(Path.Combine(RepoPaths.Releases, $"{From}.yaml"), Path.Combine(releases, $"{From}.yaml"));
        var settings = DeployApiTests.FastDemo();
        settings["Upgrades:PollIntervalSeconds"] = "0.2";
        settings["Upgrades:HealthTimeoutSeconds"] = "60";
        settings["Upgrades:GuestTimeoutSeconds"] = "120";
        settings["Simulator:Nodes"] = nodes;
        var app = new ProvisionerApp(releasesDirectory: releases, settings: settings, https: true);
        var site = new UpgradeSite(app, releases, await app.CreateClientAsync(Role.Operator));
        site.Project = await DeployApiTests.CreateProjectAsync(site.Client, name);
        (await site.Client.PostAsJsonAsync($"/api/projects/{site.Project}/deploy", new { types = new[] { "zwavejs", "ctrlable-pro" } })).EnsureSuccessStatusCode();
        var deployed = await DeployApiTests.WaitForAsync(site.Client, site.Project, i => i.GetProperty("state").GetString() is "active" or "failed");
        deployed.Should().OnlyContain(i => i.GetProperty("state").GetString() == "active", string.Join("; ", deployed.Select(i => i.GetProperty("error").ToString())));
        return site;
    }

    /// <summary>Release 2026.07 becomes the active one (as a build of it would make it).</summary>
    public async Task PublishNextReleaseAsync()
    {
        var yaml = (await File.ReadAllTextAsync(Path.Combine(_releases, $"{From}.yaml")))
            .Replace($"release: \"{From}\"", $"release: \"{To}\"", StringComparison.Ordinal)
            .Replace("app_version: \"11.19.0\"", $"app_version: \"{ZwaveJsVersion}\"", StringComparison.Ordinal)
            .Replace("haos_version: \"17.1\"", $"haos_version: \"{OsVersion}\"", StringComparison.Ordinal)
            .Replace($"ctrlable-base-{From}.tar", $"ctrlable-base-{To}.tar", StringComparison.Ordinal);
        await File.WriteAllTextAsync(Path.Combine(_releases, $"{To}.yaml"), yaml);

        var releases = App.Service<ReleaseRepository>();
        var now = DateTimeOffset.UtcNow;
        var built = (await releases.ListTemplatesAsync(From)).Select(t => t with
        {
            Release = To,
            AppVersion = t.Name == "zwavejs" ? ZwaveJsVersion : t.AppVersion,
            BuiltAt = now,
        }).ToList();
        var from = (await releases.ListAsync()).Single(r => r.Name == From);
        await releases.ActivateAsync(To, from.CommunityScriptsRef, from.CommunityScriptsCommit, built, now, CancellationToken.None);
        await TestBaseBackup.StoreAsync(App, To, HaBaseBackup.Create(TestBaseBackup.Spec() with { HomeAssistantVersion = CoreVersion }));
    }

    public async Task<List<JsonElement>> InstancesAsync() =>
        (await Client.GetFromJsonAsync<JsonElement>($"/api/projects/{Project}")).GetProperty("instances").EnumerateArray().ToList();

    public async Task<JsonElement> InstanceAsync(string type) => (await InstancesAsync()).Single(i => i.GetProperty("type").GetString() == type);

    public static int Vmid(JsonElement instance) => instance.GetProperty("vmid").GetInt32();

    /// <summary>
    /// Waits until every instance has left the upgrade; the Z-Wave JS guest runs its update when its upgrade timer would
    /// (demo mode's SimulatedUpgradeTimer starts it as soon as the orchestrator waits for the guest).
    /// </summary>
    public Task<List<JsonElement>> DriveUpgradeAsync() =>
        DeployApiTests.WaitForAsync(Client, Project, i => i.GetProperty("state").GetString() is "active" or "failed", TimeSpan.FromSeconds(120));

    /// <summary>The names of the guest's snapshots in the emulator.</summary>
    public IReadOnlyList<string> Snapshots(int vmid)
    {
        lock (Host.Simulator.State.Sync)
        {
            return [.. Host.Simulator.State.Guest(vmid)!.Snapshots.Select(s => s.Name)];
        }
    }

    public void Dispose()
    {
        Client.Dispose();
        App.Dispose();
        TempDirectory.TryDelete(_releases);
    }
}
