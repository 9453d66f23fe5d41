using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Manifest;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim.Guests;

namespace Ctrlable.Provisioner.Tests.Build;

/// <summary>
/// The shipped releases/2026.06.yaml, as it is in the repository, built through the real orchestrator, sshd and
/// wrapper from the fixture upstream, which has the pinned commit's layout (the five ct builders and their installs,
/// vm/haos-vm.sh). Only what must be is substituted: the commit (the fixture's tag points at its own) and
/// haos_sha256 (dropped, so the image is verified against the digest GitHub's release API gives). The first build meets
/// GitHub's API down: the release becomes deployable with its five containers, ctrlable-pro unavailable with the
/// reason; the rebuild of ctrlable-pro alone completes it. Others' guests at 100, 999 and 10000 stay untouched.
/// </summary>
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
    public async Task The_2026_06_manifest_activates_template_by_template_and_ctrlable_pro_rebuilds_alone_with_the_digest_from_GitHub()
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

        // First build: GitHub's release API is down, so ctrlable-pro fails alone and the five containers build.
        host.GitHub.ServeStatus(vm.HaosVersion!, 503);
        var (build, log) = await BuildAsync(client, host, release.Release, new { });
        var describe = BuildPipelineTests.Describe(build, host);
        var progress = build.GetProperty("templates").EnumerateArray().ToDictionary(t => t.GetProperty("name").GetString()!);

        // Each container: built with the version the manifest names (exact versions must build), or, for an N.x
        // series the pinned builder does not install, failed with both versions.
        var lxcBuilt = 0;
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
                continue;
            }

            state.GetProperty("state").GetString().Should().Be("built", $"{template.Name}\n{describe}");
            lxcBuilt++;
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
                && l.Contains($" app_version={installed ?? "-"} run=", StringComparison.Ordinal) && BuildHost.EndsWithOwnershipProof(l));
            if (TakesAppVersion(template))
            {
                // The release's tag: Z-Wave JS UI tags its releases v<version> (APPVERSION_BUILDERS' tag prefix).
                var tag = (template.Builder == "ct/zwave-js-ui.sh" ? "v" : "") + template.AppVersion!.TrimStart('v');
                log.Should().Contain($"[{template.Name}] var_appversion={tag} (the version {template.Builder} installs)");
            }
        }

        // ctrlable-pro failed before any download, with GitHub's answer; nothing of it is left on the host.
        var api = host.GitHub.Url.ToString().TrimEnd('/');
        var haosError = $"the manifest gives no haos_sha256 and GitHub's release API answered HTTP 503 for {api}/repos/home-assistant/operating-system/releases/tags/{vm.HaosVersion}";
        progress[vm.Name].GetProperty("state").GetString().Should().Be("failed", describe);
        progress[vm.Name].GetProperty("error").GetString().Should().Be(haosError);
        host.Guest(vm.Vmid).Should().BeNull();
        build.GetProperty("state").GetString().Should().Be("failed", describe);

        // Pinned: nothing of upstream main ran; docker's prompts were answered; Frigate's install got no var_appversion.
        (await File.ReadAllLinesAsync(host.FetchLog)).Should().NotContain(l => l.StartsWith("BLOCKED", StringComparison.Ordinal));
        log.Should().Contain(l => l.StartsWith("[docker-portainer] answered 3 prompt(s) in install/docker-install.sh", StringComparison.Ordinal));
        log.Should().NotContain(l => l.StartsWith("[frigate]", StringComparison.Ordinal) && l.Contains("var_appversion", StringComparison.Ordinal));

        // Activation per template: the release is active with what built; ctrlable-pro is unavailable with the reason,
        // and a deploy of everything is refused naming it alone.
        var releases = host.App.Service<ReleaseRepository>();
        (await releases.GetActiveNameAsync()).Should().Be(release.Release, "containers built: the release is active with them");
        var summary = (await client.GetFromJsonAsync<JsonElement>("/api/releases")).EnumerateArray().Single(r => r.GetProperty("name").GetString() == release.Release);
        (summary.GetProperty("templatesBuilt").GetInt32(), summary.GetProperty("templateCount").GetInt32()).Should().Be((lxcBuilt, 6));
        var reason = $"build {build.GetProperty("id").GetInt64()} failed: {haosError}";
        var detail = await BuildPipelineTests.ReleaseTemplatesAsync(client, release.Release);
        detail[vm.Name].GetProperty("state").GetString().Should().Be("failed");
        detail[vm.Name].GetProperty("reason").GetString().Should().Be(reason);
        var project = await Deploy.DeployApiTests.CreateProjectAsync(client, "Before Home Assistant");
        var refused = await client.PostAsJsonAsync($"/api/projects/{project}/deploy", new { });
        refused.StatusCode.Should().Be(HttpStatusCode.Conflict, await refused.Content.ReadAsStringAsync());
        (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("missing").EnumerateArray()
            .Select(m => (m.GetProperty("type").GetString(), m.GetProperty("reason").GetString())).Should().Equal((vm.Name, reason));

        var containers = release.Templates.Where(t => t.Kind == TemplateKind.Lxc && host.Guest(t.Vmid) is not null).ToList();
        var kept = containers.ToDictionary(t => t.Vmid, t => host.Snapshot(t.Vmid)!);
        var keptEnv = await File.ReadAllTextAsync(Path.Combine(host.CtRoot(containers[0].Vmid), "etc/ctrlable/firstboot.env"));
        var keptRows = (await releases.ListTemplatesAsync(release.Release)).ToDictionary(t => t.Name);
        var secret = await host.App.Service<ReleaseSecrets>().GetAsync(release.Release, CancellationToken.None);

        // GitHub answers again: ctrlable-pro is rebuilt alone, verified against the digest GitHub gives, which the
        // build reports as such; the containers keep their templates and the release secret.
        host.GitHub.ServeRelease(vm.HaosVersion!, host.HaosSha256);
        (build, log) = await BuildAsync(client, host, release.Release, new { templates = new[] { vm.Name } });
        describe = BuildPipelineTests.Describe(build, host);
        build.GetProperty("state").GetString().Should().Be("succeeded", describe);
        log.Should().NotContain(l => l.StartsWith("::ctrlable template-", StringComparison.Ordinal) && !l.Contains($"template={vm.Name} ", StringComparison.Ordinal),
            "the plan carried ctrlable-pro only");
        host.Guest(vm.Vmid)!["template"].Should().Be("1");
        log.Should().ContainSingle(l => l.StartsWith($"::ctrlable template-done template={vm.Name} kind=vm vmid={vm.Vmid} ", StringComparison.Ordinal))
            .Which.Should().Contain($" haos_version={vm.HaosVersion} rebrand={(vm.Rebrand ? 1 : 0)} base_backup={vm.BaseBackup ?? "-"} haos_digest=github run=")
            .And.Match(l => BuildHost.EndsWithOwnershipProof(l));
        log.Should().Contain($"[{vm.Name}] SHA-256 of haos_ova-{vm.HaosVersion}.qcow2.xz from GitHub's release API: {host.HaosSha256} (digest from GitHub at build time, not pinned in the manifest)");
        (await BuildPipelineTests.ReleaseTemplatesAsync(client, release.Release))[vm.Name].GetProperty("haosDigest").GetString().Should().Be("github");

        foreach (var (vmid, snapshot) in kept)
        {
            host.Snapshot(vmid).Should().BeEquivalentTo(snapshot, $"CT {vmid} was not part of the rebuild");
        }

        (await File.ReadAllTextAsync(Path.Combine(host.CtRoot(containers[0].Vmid), "etc/ctrlable/firstboot.env"))).Should().Be(keptEnv);
        (await host.App.Service<ReleaseSecrets>().GetAsync(release.Release, CancellationToken.None)).Should().Be(secret);
        var rows = (await releases.ListTemplatesAsync(release.Release)).ToDictionary(t => t.Name);
        rows.Should().HaveCount(lxcBuilt + 1);
        foreach (var (name, row) in keptRows)
        {
            rows[name].Should().Be(row);
        }

        foreach (var (vmid, snapshot) in foreign)
        {
            host.Snapshot(vmid).Should().BeEquivalentTo(snapshot, $"guest {vmid} is not this build's");
        }

        // With every template built, every component deploys.
        if (lxcBuilt == 5)
        {
            (await BuildPipelineTests.ReleaseTemplatesAsync(client, release.Release)).Values.Should().OnlyContain(t => t.GetProperty("state").GetString() == "built");
            var deploy = await client.PostAsJsonAsync($"/api/projects/{project}/deploy", new { });
            deploy.StatusCode.Should().Be(HttpStatusCode.Accepted, await deploy.Content.ReadAsStringAsync());
        }
    }

    private static async Task<(JsonElement Build, string[] Log)> BuildAsync(HttpClient client, BuildHost host, string release, object request)
    {
        var response = await client.PostAsJsonAsync($"/api/releases/{release}/build", request);
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        var build = await BuildPipelineTests.WaitAsync(host, client, id);
        return (build, (await client.GetFromJsonAsync<JsonElement>($"/api/builds/{id}")).GetProperty("log").GetString()!.Split('\n'));
    }
}
