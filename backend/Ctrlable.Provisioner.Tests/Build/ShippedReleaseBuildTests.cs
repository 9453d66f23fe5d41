using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Build;
using Ctrlable.Provisioner.Manifest;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim.Guests;

namespace Ctrlable.Provisioner.Tests.Build;

/// <summary>
/// The shipped releases/2026.06.yaml, as it is in the repository, built through the real orchestrator, sshd and
/// wrapper from the fixture upstream, which has the pinned commit's layout (the five ct builders and their installs,
/// vm/haos-vm.sh). Only what must be is substituted: the commit (the fixture's tag points at its own) and
/// haos_sha256 (dropped, so the image is verified against the digest GitHub's release API gives). Others' guests at
/// 100, 999 and 10000 stay untouched.
/// </summary>
[Collection(BuildCollection.Name)]
public sealed class ShippedReleaseBuildTests
{
    /// <summary>What each fixture builder installs (the pinned commit's installs, offline): "latest" unless var_appversion says otherwise.</summary>
    private static string? Installs(TemplateSpec template) => template.Builder switch
    {
        "ct/zwave-js-ui.sh" => TakesAppVersion(template) ? template.AppVersion : "v11.4.1",
        "ct/zigbee2mqtt.sh" => TakesAppVersion(template) ? template.AppVersion : "2.7.2",
        "ct/frigate.sh" => "v0.17.1",
        _ => null, // docker and freepbx record no version
    };

    // The wrapper's APPVERSION_BUILDERS and N.x rule.
    private static bool TakesAppVersion(TemplateSpec template) =>
        template.AppVersion is { } version && !IsSeries(version) && template.Builder is "ct/zwave-js-ui.sh" or "ct/zigbee2mqtt.sh";

    private static bool IsSeries(string version) => Regex.IsMatch(version, @"^v?[0-9]+(\.[0-9]+)*\.x$");

    /// <summary>The installed version (without "v") is the exact version, or one of the N.x series.</summary>
    private static bool Agrees(string wanted, string? installed)
    {
        var bare = wanted.TrimStart('v');
        return installed is not null && (IsSeries(wanted)
            ? installed.StartsWith(bare[..^1], StringComparison.Ordinal) && installed.Length > bare.Length - 1
            : installed == bare);
    }

    [Fact]
    public async Task The_2026_06_manifest_builds_all_six_templates_with_the_digest_from_GitHub_and_leaves_others_guests_alone()
    {
        var yaml = await File.ReadAllTextAsync(Path.Combine(RepoPaths.Releases, "2026.06.yaml"));
        var manifest = Regex.Replace(yaml, @"^([ \t]*community_scripts_commit:[ \t]*).*$", "$1\"{commit}\"", RegexOptions.Multiline);
        manifest = Regex.Replace(manifest, @"^([ \t]*community_scripts_ref:[ \t]*).*$", $"$1\"{BuildHost.Ref}\"", RegexOptions.Multiline);
        manifest = Regex.Replace(manifest, @"^[ \t]*haos_sha256:.*\n", "", RegexOptions.Multiline);
        var parsed = ManifestParser.Parse("2026.06.yaml", manifest.Replace("{commit}", new string('0', 40), StringComparison.Ordinal));
        parsed.IsValid.Should().BeTrue(string.Join("\n", parsed.Errors));
        var release = parsed.Manifest!;
        release.Templates.Select(t => t.Builder).Should().BeEquivalentTo(
            ["vm/haos-vm.sh", "ct/zwave-js-ui.sh", "ct/zigbee2mqtt.sh", "ct/docker.sh", "ct/frigate.sh", "ct/freepbx.sh"]);
        var vm = release.Templates.Single(t => t.Kind == TemplateKind.Vm);

        await using var host = await BuildHost.StartAsync(manifest, release: release.Release, haosVersion: vm.HaosVersion!);
        var foreign = new Dictionary<int, GuestSnapshot>
        {
            [100] = host.AddForeignGuest(100, GuestKind.Lxc, "Pi-hole of the customer (ask Jo)", running: true),
            [999] = host.AddForeignGuest(999, GuestKind.Qemu, "Customer NAS", running: true),
            [10000] = host.AddForeignGuest(10000, GuestKind.Lxc, "Another integrator's template", template: true),
        };
        using var client = await host.ClientAsync(Role.Operator);

        var response = await client.PostAsJsonAsync($"/api/releases/{release.Release}/build", new { });
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        await host.App.Service<BuildService>().WaitAsync(id).WaitAsync(TimeSpan.FromMinutes(6));
        var stored = await client.GetFromJsonAsync<JsonElement>($"/api/builds/{id}");
        var build = stored.GetProperty("build");
        var log = stored.GetProperty("log").GetString()!.Split('\n');
        var describe = BuildPipelineTests.Describe(build, host);
        var progress = build.GetProperty("templates").EnumerateArray().ToDictionary(t => t.GetProperty("name").GetString()!);

        // Each template: built with the version the manifest names (exact versions must build), or, for an N.x
        // series the pinned builder does not install, failed with both versions.
        var allBuilt = true;
        foreach (var template in release.Templates.Where(t => t.Kind == TemplateKind.Lxc))
        {
            var installed = Installs(template)?.TrimStart('v');
            var agrees = template.AppVersion is not { } wanted || Agrees(wanted, installed);
            var state = progress[template.Name];
            if (!agrees)
            {
                IsSeries(template.AppVersion!).Should().BeTrue($"{template.Name}: an exact app_version ({template.AppVersion}) must be what its pinned builder installs ({installed})");
                state.GetProperty("state").GetString().Should().Be("failed", describe);
                state.GetProperty("error").GetString().Should().Be(
                    $"the install put version {installed} of {Path.GetFileNameWithoutExtension(template.Builder)} in place, but the manifest's app_version is {template.AppVersion}");
                host.Guest(template.Vmid).Should().BeNull();
                allBuilt = false;
                continue;
            }

            state.GetProperty("state").GetString().Should().Be("built", $"{template.Name}\n{describe}");
            var guest = host.Guest(template.Vmid)!;
            guest["template"].Should().Be("1");
            guest["description"].Should().EndWith($" app_version={installed ?? "-"}");
            if (template.Unprivileged)
            {
                guest["unprivileged"].Should().Be("1", template.Name);
            }
            else
            {
                guest.Should().NotContainKey("unprivileged", template.Name);
            }

            log.Should().Contain(l => l.StartsWith($"::ctrlable template-done template={template.Name} kind=lxc vmid={template.Vmid} ", StringComparison.Ordinal)
                && l.EndsWith($" app_version={installed ?? "-"}", StringComparison.Ordinal));
            if (TakesAppVersion(template))
            {
                // The release's tag: Z-Wave JS UI tags its releases v<version> (APPVERSION_BUILDERS' tag prefix).
                var tag = (template.Builder == "ct/zwave-js-ui.sh" ? "v" : "") + template.AppVersion!.TrimStart('v');
                log.Should().Contain($"[{template.Name}] var_appversion={tag} (the version {template.Builder} installs)");
            }
        }

        // ctrlable-pro: the native HAOS build, verified against GitHub's digest, which the build reports as such.
        progress[vm.Name].GetProperty("state").GetString().Should().Be("built", describe);
        host.Guest(vm.Vmid)!["template"].Should().Be("1");
        log.Should().ContainSingle(l => l.StartsWith($"::ctrlable template-done template={vm.Name} kind=vm vmid={vm.Vmid} ", StringComparison.Ordinal))
            .Which.Should().EndWith($" haos_version={vm.HaosVersion} rebrand={(vm.Rebrand ? 1 : 0)} base_backup={vm.BaseBackup ?? "-"} haos_digest=github");
        log.Should().Contain($"[{vm.Name}] SHA-256 of haos_ova-{vm.HaosVersion}.qcow2.xz from GitHub's release API: {host.HaosSha256} (digest from GitHub at build time, not pinned in the manifest)");

        // Pinned: nothing of upstream main ran; docker's prompts were answered; Frigate's install got no var_appversion.
        (await File.ReadAllLinesAsync(host.FetchLog)).Should().NotContain(l => l.StartsWith("BLOCKED", StringComparison.Ordinal));
        log.Should().Contain(l => l.StartsWith("[docker-portainer] answered 3 prompt(s) in install/docker-install.sh", StringComparison.Ordinal));
        log.Should().NotContain(l => l.StartsWith("[frigate]", StringComparison.Ordinal) && l.Contains("var_appversion", StringComparison.Ordinal));

        foreach (var (vmid, snapshot) in foreign)
        {
            host.Snapshot(vmid).Should().BeEquivalentTo(snapshot, $"guest {vmid} is not this build's");
        }

        build.GetProperty("state").GetString().Should().Be(allBuilt ? "succeeded" : "failed", describe);
        if (allBuilt)
        {
            (await host.App.Service<ReleaseRepository>().GetActiveNameAsync()).Should().Be(release.Release);
            (await host.App.Service<ReleaseRepository>().ListTemplatesAsync(release.Release)).Should().HaveCount(6);
        }
    }
}
