using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Build;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim;
using Ctrlable.PveSim.Seeding;
using static Ctrlable.Provisioner.Tests.Releases.TemplateSim;
using SimGuestKind = Ctrlable.PveSim.Guests.GuestKind;

namespace Ctrlable.Provisioner.Tests.Releases;

/// <summary>
/// Removing an old release's templates (SPEC §8a "Removing old releases' templates"): refused while a linked clone holds
/// a base volume (naming the guest), done once it is gone, a foreign template of the same name untouched, and the active
/// release never. The templates live on ZFS, whose linked clones name their base volume (basevol-N-disk-0/subvol-…).
/// </summary>
public sealed class TemplateRemovalTests
{
    private const string Old = "2026.05";
    private const string Active = BuildHost.Release;
    private const int OldVm = 9200;
    private const int OldCt = 9201;
    private const int ForgedCt = 9202;
    private const int ForeignSameName = 9301;
    private const int ActiveCt = 9001;

    [Fact]
    public async Task Removal_is_refused_while_a_linked_clone_holds_a_base_volume_and_done_once_it_is_gone_leaving_foreign_templates_alone()
    {
        await using var sim = await TemplateSim.StartAsync(randomSeed: 11);
        var token = Seed(sim);
        var releasesDirectory = ActivationManifest.CreateReleasesDirectory();
        try
        {
            using var app = new ProvisionerApp(releasesDirectory, ProvisionerApp.ProxmoxSettings(sim, token));
            using var admin = await app.CreateClientAsync(Role.Admin);
            using var viewer = await app.CreateClientAsync(Role.Viewer);
            await RecordReleasesAsync(app, sim);
            var foreign = ForeignGuests.Capture(sim, [ForgedCt, ForeignSameName]);

            // A site's guest, linked-cloned from the old release's zwavejs template (as a deploy of that release made it).
            var proxmox = app.Service<ProxmoxClient>();
            var tasks = app.Service<ProxmoxTasks>();
            var upid = await proxmox.CloneAsync("pve1", GuestKind.Lxc, OldCt, new CloneRequest(1001, "site-zwave", Pool: "ctrlable"), CancellationToken.None);
            (await tasks.WaitAsync("pve1", upid, TimeSpan.FromMinutes(1), CancellationToken.None)).Succeeded.Should().BeTrue();

            // The page's view: the holder named, the VM template removable, the forged one foreign.
            var view = await viewer.GetFromJsonAsync<JsonElement>($"/api/releases/{Old}/templates");
            view.GetProperty("active").GetBoolean().Should().BeFalse();
            var zwave = Template(view, "zwavejs");
            zwave.GetProperty("vmid").GetInt64().Should().Be(OldCt);
            zwave.GetProperty("state").GetString().Should().Be("present");
            zwave.GetProperty("removable").GetBoolean().Should().BeFalse();
            var holder = zwave.GetProperty("holders").EnumerateArray().Should().ContainSingle().Subject;
            holder.GetProperty("vmid").GetInt32().Should().Be(1001);
            holder.GetProperty("name").GetString().Should().Be("site-zwave");
            holder.GetProperty("volume").GetString().Should().StartWith($"local-zfs:basevol-{OldCt}-disk-0/subvol-1001-disk-0");
            Template(view, "ctrlable-pro").GetProperty("removable").GetBoolean().Should().BeTrue();
            Template(view, "docker-portainer").GetProperty("state").GetString().Should().Be("foreign");

            // Viewers may look, not remove.
            (await viewer.DeleteAsync($"/api/releases/{Old}/templates")).StatusCode.Should().Be(HttpStatusCode.Forbidden);

            // Refused while the clone holds it, naming the guest; nothing destroyed.
            var refused = await admin.DeleteAsync($"/api/releases/{Old}/templates");
            var problem = await ProblemAsync(refused, HttpStatusCode.Conflict);
            problem.GetProperty("code").GetString().Should().Be("templates-in-use");
            problem.GetProperty("detail").GetString().Should().Contain("zwavejs (9201) is held by site-zwave (1001)");
            Exists(sim, OldVm).Should().BeTrue("one held template refuses the whole removal");
            Exists(sim, OldCt).Should().BeTrue();

            // The site's guest goes (a delete, an upgrade to a full clone); then the removal goes through.
            var deleted = await proxmox.DeleteAsync("pve1", GuestKind.Lxc, 1001, CancellationToken.None);
            (await tasks.WaitAsync("pve1", deleted, TimeSpan.FromMinutes(1), CancellationToken.None)).Succeeded.Should().BeTrue();
            var removed = await admin.DeleteAsync($"/api/releases/{Old}/templates");
            removed.StatusCode.Should().Be(HttpStatusCode.OK, await removed.Content.ReadAsStringAsync());
            var result = await removed.Content.ReadFromJsonAsync<JsonElement>();
            Outcomes(result).Should().BeEquivalentTo(new Dictionary<string, string>
            {
                ["ctrlable-pro"] = "removed",
                ["zwavejs"] = "removed",
                ["docker-portainer"] = "forgotten",
            });
            result.GetProperty("templatesRemovedAt").ValueKind.Should().Be(JsonValueKind.String);
            Exists(sim, OldVm).Should().BeFalse();
            Exists(sim, OldCt).Should().BeFalse();

            // The forged template at a recorded VMID and the other admin's template named like ours: untouched.
            foreign.ShouldBeUntouched(sim, "by the removal");
            Exists(sim, ActiveCt).Should().BeTrue();
            (await app.Service<ReleaseRepository>().ListTemplatesAsync(Old)).Should().BeEmpty();
            var after = await viewer.GetFromJsonAsync<JsonElement>($"/api/releases/{Old}/templates");
            after.GetProperty("templates").GetArrayLength().Should().Be(0);
            after.GetProperty("templatesRemovedBy").GetString().Should().NotBeNullOrEmpty();
        }
        finally
        {
            TempDirectory.TryDelete(releasesDirectory);
        }
    }

    [Fact]
    public async Task The_active_releases_templates_are_never_removed()
    {
        await using var sim = await TemplateSim.StartAsync(randomSeed: 11);
        var token = Seed(sim);
        var releasesDirectory = ActivationManifest.CreateReleasesDirectory();
        try
        {
            using var app = new ProvisionerApp(releasesDirectory, ProvisionerApp.ProxmoxSettings(sim, token));
            using var admin = await app.CreateClientAsync(Role.Admin);
            await RecordReleasesAsync(app, sim);

            var problem = await ProblemAsync(await admin.DeleteAsync($"/api/releases/{Active}/templates"), HttpStatusCode.Conflict);
            problem.GetProperty("code").GetString().Should().Be("release-active");
            Exists(sim, ActiveCt).Should().BeTrue();
            (await app.Service<ReleaseRepository>().ListTemplatesAsync(Active)).Should().ContainSingle();
            var view = await admin.GetFromJsonAsync<JsonElement>($"/api/releases/{Active}/templates");
            view.GetProperty("active").GetBoolean().Should().BeTrue();
            Template(view, "zwavejs").GetProperty("removable").GetBoolean().Should().BeFalse();

            (await admin.DeleteAsync("/api/releases/1999.01/templates")).StatusCode.Should().Be(HttpStatusCode.NotFound);
        }
        finally
        {
            TempDirectory.TryDelete(releasesDirectory);
        }
    }

    /// <summary>
    /// The product's token (templates on ZFS) and the templates: the old release's VM and CT and, at the VMID the old
    /// release recorded docker-portainer at, a template carrying a forged marker (the build's run id, another MAC); an
    /// other admin's template named zwavejs with a copy of the marker; the active release's CT.
    /// </summary>
    private static Ctrlable.PveSim.Auth.ApiTokenCredentials Seed(PveSimulator sim)
    {
        return sim.Seed(LeastPrivilege.Spec(sim.Version, storage: "local-zfs") with
        {
            Storages = [.. TemplateSim.Storages],
            Templates =
            [
                TemplateOf(OldVm, "ctrlable-pro", SimGuestKind.Qemu, Old),
                TemplateOf(OldCt, "zwavejs", SimGuestKind.Lxc, Old),
                TemplateOf(ForgedCt, "docker-portainer", SimGuestKind.Lxc, Old),
                TemplateOf(ForeignSameName, "zwavejs", SimGuestKind.Lxc, Old),
                TemplateOf(ActiveCt, "zwavejs", SimGuestKind.Lxc, Active),
            ],
        }).Tokens.Single();
    }

    /// <summary>The old release (recorded with each build run's proof: run id and the MAC on net0) and the active one after it.</summary>
    private static async Task RecordReleasesAsync(ProvisionerApp app, PveSimulator sim)
    {
        var now = DateTimeOffset.UtcNow;
        var repository = app.Service<ReleaseRepository>();
        TemplateRow Row(string release, string name, string kind, int vmid) =>
            new(0, release, name, kind, vmid, "pve1", BuildHost.Ref, ActivationManifest.Commit, null, now);
        TemplateProof Proof(string name, int vmid, string? mac = null) => new(name, 3, RunId, mac ?? MacOf(sim, vmid));

        await repository.ActivateAsync(Old, BuildHost.Ref, ActivationManifest.Commit,
            [Row(Old, "ctrlable-pro", "vm", OldVm), Row(Old, "zwavejs", "lxc", OldCt), Row(Old, "docker-portainer", "lxc", ForgedCt)], now, CancellationToken.None,
            [Proof("ctrlable-pro", OldVm), Proof("zwavejs", OldCt), Proof("docker-portainer", ForgedCt, mac: "02:AA:BB:CC:DD:EE")]);
        await repository.ActivateAsync(Active, BuildHost.Ref, ActivationManifest.Commit, [Row(Active, "zwavejs", "lxc", ActiveCt)], now, CancellationToken.None,
            [Proof("zwavejs", ActiveCt)]);
    }


    private static Dictionary<string, string> Outcomes(JsonElement result) =>
        result.GetProperty("templates").EnumerateArray().ToDictionary(t => t.GetProperty("name").GetString()!, t => t.GetProperty("outcome").GetString()!);

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        response.StatusCode.Should().Be(status, await response.Content.ReadAsStringAsync());
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }
}
