using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.Releases;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Build;
using Ctrlable.Provisioner.Tests.GuestBackups;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim;
using Ctrlable.PveSim.Seeding;
using static Ctrlable.Provisioner.Tests.Releases.TemplateSim;
using SimGuestKind = Ctrlable.PveSim.Guests.GuestKind;

namespace Ctrlable.Provisioner.Tests.Releases;

/// <summary>
/// Old releases' templates removed automatically <c>Releases:RemoveTemplatesAfterDays</c> after the release stopped being
/// active (SPEC §8a), through the same proven removal as the admin's button: not before the days are up, not while a
/// linked clone holds a base volume, never the active release's, never a template without the recorded proof (listed
/// "not proven ours" instead); a template destroyed before a crash let its record go is forgotten the next round; off
/// by default. The clock is the backups' jumping clock (real time plus an offset): Proxmox's tasks run in real time, and
/// a jump fires no periodic timer of the host; the test runs each round itself (the host's own loop looks once a week).
/// </summary>
public sealed class TemplateExpiryTests
{
    private const int Days = 3;
    private const string Old = "2026.05";
    private const string Active = BuildHost.Release;
    private const int OldVm = 9200;
    private const int OldCt = 9201;
    private const int LegacyCt = 9202;
    private const int ActiveCt = 9001;

    private static readonly DateTimeOffset Superseded = new(2031, 5, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Proven_templates_go_once_the_days_are_up_and_no_clone_holds_them_unproven_ones_are_listed_and_kept()
    {
        await using var sim = await TemplateSim.StartAsync(randomSeed: 13);
        var token = Seed(sim);
        var releasesDirectory = ActivationManifest.CreateReleasesDirectory();
        var clock = new JumpingClock(Superseded);
        try
        {
            var settings = ProvisionerApp.ProxmoxSettings(sim, token);
            settings["Releases:RemoveTemplatesAfterDays"] = $"{Days}";
            settings["Releases:TemplateRemovalCheckMinutes"] = "10080";
            using var app = new ProvisionerApp(releasesDirectory, settings, time: clock);
            using var viewer = await app.CreateClientAsync(Role.Viewer);
            await RecordReleasesAsync(app, sim, Superseded);
            var expiry = app.Service<TemplateExpiry>();
            var foreign = ForeignGuests.Capture(sim, [ForeignGuests.Vmids[0]]);

            // The page says when they go, and which one the orchestrator will never remove.
            var view = await viewer.GetFromJsonAsync<JsonElement>($"/api/releases/{Old}/templates");
            view.GetProperty("removeAutomaticallyAt").GetDateTimeOffset().Should().Be(Superseded.AddDays(Days));
            var legacy = Template(view, "docker-portainer");
            legacy.GetProperty("state").GetString().Should().Be("unproven");
            legacy.GetProperty("removable").GetBoolean().Should().BeFalse();
            legacy.GetProperty("reason").GetString().Should().StartWith("Not proven ours:").And.Contain("remove it by hand");
            (await viewer.GetFromJsonAsync<JsonElement>($"/api/releases/{Active}/templates")).GetProperty("removeAutomaticallyAt").ValueKind
                .Should().Be(JsonValueKind.Null, "the active release keeps its templates");

            // A day before: nothing.
            clock.JumpTo(Superseded.AddDays(Days - 1));
            (await expiry.RoundAsync(CancellationToken.None)).Should().BeEmpty();
            Exists(sim, OldVm).Should().BeTrue();

            // Due, but a site's guest is a linked clone of the CT template: the whole removal is refused, tried again later.
            var proxmox = app.Service<ProxmoxClient>();
            var tasks = app.Service<ProxmoxTasks>();
            var upid = await proxmox.CloneAsync("pve1", GuestKind.Lxc, OldCt, new CloneRequest(1001, "site-zwave", Pool: "ctrlable"), CancellationToken.None);
            (await tasks.WaitAsync("pve1", upid, TimeSpan.FromMinutes(1), CancellationToken.None)).Succeeded.Should().BeTrue();
            clock.JumpTo(Superseded.AddDays(Days).AddMinutes(1));
            (await expiry.RoundAsync(CancellationToken.None)).Should().BeEmpty();
            Exists(sim, OldVm).Should().BeTrue("one held template refuses the whole removal");
            Exists(sim, OldCt).Should().BeTrue();

            // The clone goes; the VM template was destroyed by a round that stopped before its record went (a crash).
            var deleted = await proxmox.DeleteAsync("pve1", GuestKind.Lxc, 1001, CancellationToken.None);
            (await tasks.WaitAsync("pve1", deleted, TimeSpan.FromMinutes(1), CancellationToken.None)).Succeeded.Should().BeTrue();
            var destroyed = await proxmox.DestroyTemplateAsync("pve1", GuestKind.Qemu, OldVm, CancellationToken.None);
            (await tasks.WaitAsync("pve1", destroyed, TimeSpan.FromMinutes(1), CancellationToken.None)).Succeeded.Should().BeTrue();

            clock.JumpTo(Superseded.AddDays(Days).AddHours(1));
            (await expiry.RoundAsync(CancellationToken.None)).Should().Equal(Old);
            Exists(sim, OldCt).Should().BeFalse();
            Exists(sim, LegacyCt).Should().BeTrue("a template without the recorded proof is never removed");
            Exists(sim, ActiveCt).Should().BeTrue();
            foreign.ShouldBeUntouched(sim, "by the automatic removal");
            (await app.Service<ReleaseRepository>().ListTemplatesAsync(Old)).Select(t => t.Name).Should().Equal("docker-portainer");

            // Idempotent: only the unproven one is left, so the release is not looked at again.
            var taskCount = sim.TaskLog.Count;
            clock.JumpTo(Superseded.AddDays(Days + 30));
            (await expiry.RoundAsync(CancellationToken.None)).Should().BeEmpty();
            sim.TaskLog.Count.Should().Be(taskCount, "a release with unproven templates only is not removed again");
            Exists(sim, LegacyCt).Should().BeTrue();
            var after = await viewer.GetFromJsonAsync<JsonElement>($"/api/releases/{Old}/templates");
            after.GetProperty("removeAutomaticallyAt").ValueKind.Should().Be(JsonValueKind.Null);
            Template(after, "docker-portainer").GetProperty("reason").GetString().Should().StartWith("Not proven ours:");
        }
        finally
        {
            TempDirectory.TryDelete(releasesDirectory);
        }
    }

    [Fact]
    public async Task Off_by_default_nothing_is_removed_however_old_the_release()
    {
        await using var sim = await TemplateSim.StartAsync(randomSeed: 13);
        var token = Seed(sim);
        var releasesDirectory = ActivationManifest.CreateReleasesDirectory();
        var clock = new JumpingClock(Superseded);
        try
        {
            using var app = new ProvisionerApp(releasesDirectory, ProvisionerApp.ProxmoxSettings(sim, token), time: clock);
            await RecordReleasesAsync(app, sim, Superseded);
            clock.JumpTo(Superseded.AddDays(400));
            (await app.Service<TemplateExpiry>().RoundAsync(CancellationToken.None)).Should().BeEmpty();
            Exists(sim, OldVm).Should().BeTrue();
            Exists(sim, OldCt).Should().BeTrue();
            using var viewer = await app.CreateClientAsync(Role.Viewer);
            (await viewer.GetFromJsonAsync<JsonElement>($"/api/releases/{Old}/templates")).GetProperty("removeAutomaticallyAt").ValueKind.Should().Be(JsonValueKind.Null);
        }
        finally
        {
            TempDirectory.TryDelete(releasesDirectory);
        }
    }

    /// <summary>The old release's VM and CT templates (proof recorded), a legacy CT of it (no proof) and the active release's CT, on ZFS.</summary>
    private static Ctrlable.PveSim.Auth.ApiTokenCredentials Seed(PveSimulator sim)
    {
        return sim.Seed(LeastPrivilege.Spec(sim.Version, storage: "local-zfs") with
        {
            Storages = [.. TemplateSim.Storages],
            Templates =
            [
                .. ForeignGuests.Seeds(),
                TemplateOf(OldVm, "ctrlable-pro", SimGuestKind.Qemu, Old),
                TemplateOf(OldCt, "zwavejs", SimGuestKind.Lxc, Old),
                TemplateOf(LegacyCt, "docker-portainer", SimGuestKind.Lxc, Old),
                TemplateOf(ActiveCt, "zwavejs", SimGuestKind.Lxc, Active),
            ],
        }).Tokens.Single();
    }

    /// <summary>The old release (the legacy CT recorded without proof, as before migration 018), then the active one at <paramref name="at"/>.</summary>
    private static async Task RecordReleasesAsync(ProvisionerApp app, PveSimulator sim, DateTimeOffset at)
    {
        var repository = app.Service<ReleaseRepository>();
        TemplateRow Row(string release, string name, string kind, int vmid) =>
            new(0, release, name, kind, vmid, "pve1", BuildHost.Ref, ActivationManifest.Commit, null, at);
        TemplateProof Proof(string name, int vmid) => new(name, 3, RunId, MacOf(sim, vmid));

        await repository.ActivateAsync(Old, BuildHost.Ref, ActivationManifest.Commit,
            [Row(Old, "ctrlable-pro", "vm", OldVm), Row(Old, "zwavejs", "lxc", OldCt), Row(Old, "docker-portainer", "lxc", LegacyCt)], at.AddDays(-30), CancellationToken.None,
            [Proof("ctrlable-pro", OldVm), Proof("zwavejs", OldCt), new TemplateProof("docker-portainer", null, null, null)]);
        await repository.ActivateAsync(Active, BuildHost.Ref, ActivationManifest.Commit, [Row(Active, "zwavejs", "lxc", ActiveCt)], at, CancellationToken.None,
            [Proof("zwavejs", ActiveCt)]);
    }

}
