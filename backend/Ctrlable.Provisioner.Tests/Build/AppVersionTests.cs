using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Tests.Build;

/// <summary>
/// The manifest's app_version means what it says: an exact version reaches only the builders whose install takes
/// var_appversion for the app alone (zwave-js-ui, zigbee2mqtt at the pinned commit), never frigate's (its install
/// pins Frigate but fetches go2rtc and libusb too); and whatever the install put in place (~/.&lt;app&gt;, as
/// fetch_and_deploy_gh_release records it) must be that version, or in the series of an N.x one, else the template
/// fails with both versions. The fixture upstream installs zwave-js-ui v11.4.1, zigbee2mqtt 2.7.2 and go2rtc v1.9.13
/// as "latest", Frigate v0.17.1 and libusb v1.0.26 as pinned, and records no version for docker.
/// </summary>
public sealed class AppVersionTests
{
    private const string Manifest = $$"""
        release: "{{BuildHost.Release}}"
        community_scripts_ref: "{{BuildHost.Ref}}"
        community_scripts_commit: "{commit}"
        proxmox_min_version: "8.2"
        templates:
          zwavejs:
            kind: lxc
            builder: ct/zwave-js-ui.sh
            vmid: 9201
            app_version: "9.x"
            resources: { cpu: 1, ram: 512, disk: 4 }
          zwave-exact:
            kind: lxc
            builder: ct/zwave-js-ui.sh
            vmid: 9202
            app_version: "v11.2.0"
            resources: { cpu: 1, ram: 512, disk: 4 }
          zigbee2mqtt:
            kind: lxc
            builder: ct/zigbee2mqtt.sh
            vmid: 9203
            app_version: "2.x"
            resources: { cpu: 1, ram: 512, disk: 4 }
          frigate:
            kind: lxc
            builder: ct/frigate.sh
            vmid: 9204
            app_version: "0.17.1"
            resources: { cpu: 1, ram: 512, disk: 4 }
          frigate-old:
            kind: lxc
            builder: ct/frigate.sh
            vmid: 9205
            app_version: "0.14.2"
            resources: { cpu: 1, ram: 512, disk: 4 }
          docker:
            kind: lxc
            builder: ct/docker.sh
            vmid: 9206
            app_version: "27.x"
            resources: { cpu: 1, ram: 512, disk: 4 }
          freepbx:
            kind: lxc
            builder: ct/freepbx.sh
            vmid: 9207
            resources: { cpu: 1, ram: 512, disk: 4 }
        """;

    [Fact]
    public async Task The_installed_version_must_be_the_manifests_and_var_appversion_reaches_only_builders_that_take_it()
    {
        await using var host = await BuildHost.StartAsync(Manifest);
        using var client = await host.ClientAsync(Role.Operator);

        var build = await BuildPipelineTests.StartAndWaitAsync(host, client);

        build.GetProperty("state").GetString().Should().Be("failed", BuildPipelineTests.Describe(build, host));
        var templates = build.GetProperty("templates").EnumerateArray().ToDictionary(
            t => t.GetProperty("name").GetString()!,
            t => (State: t.GetProperty("state").GetString(), Error: t.TryGetProperty("error", out var e) ? e.GetString() : null));
        templates.Should().BeEquivalentTo(new Dictionary<string, (string?, string?)>
        {
            ["zwavejs"] = ("failed", "the install put version 11.4.1 of zwave-js-ui in place, but the manifest's app_version is 9.x"),
            ["zwave-exact"] = ("built", null),
            ["zigbee2mqtt"] = ("built", null),
            ["frigate"] = ("built", null),
            ["frigate-old"] = ("failed", "the install put version 0.17.1 of frigate in place, but the manifest's app_version is 0.14.2"),
            ["docker"] = ("failed", "the install recorded no version in /root/.docker, so it cannot be checked against the manifest's app_version 27.x"),
            ["freepbx"] = ("built", null),
        }, BuildPipelineTests.Describe(build, host));

        // An exact version reached zwave-js-ui's install as var_appversion (its tag, as upstream asks GitHub for it).
        (await File.ReadAllTextAsync(Path.Combine(host.CtRoot(9202), "opt/zwave-js-ui/.fixture-release"))).Should().Be("zwave-js/zwave-js-ui v11.2.0 prebuild\n");
        (await File.ReadAllTextAsync(Path.Combine(host.CtRoot(9202), "etc/ctrlable/template.env"))).Should().Contain("CTRLABLE_APP_VERSION=11.2.0\n");
        // Frigate's install got no var_appversion: go2rtc is still its "latest" and libusb its pinned v1.0.26.
        (await File.ReadAllTextAsync(Path.Combine(host.CtRoot(9204), "root/.frigate"))).Should().Be("0.17.1\n");
        (await File.ReadAllTextAsync(Path.Combine(host.CtRoot(9204), "root/.go2rtc"))).Should().Be("1.9.13\n");
        (await File.ReadAllTextAsync(Path.Combine(host.CtRoot(9204), "root/.libusb"))).Should().Be("1.0.26\n");
        foreach (var failed in new[] { 9201, 9205, 9206 })
        {
            host.Guest(failed).Should().BeNull("a template of another version than the manifest's is not kept");
        }

        var log = (await client.GetFromJsonAsync<JsonElement>($"/api/builds/{build.GetProperty("id").GetInt64()}")).GetProperty("log").GetString()!.Split('\n');
        log.Should().Contain("[zwave-exact] var_appversion=v11.2.0 (the version ct/zwave-js-ui.sh installs)")
            .And.Contain("[zwave-exact] installed version 11.2.0 is the manifest's app_version v11.2.0")
            .And.Contain("[zigbee2mqtt] installed version 2.7.2 is the manifest's app_version 2.x")
            .And.Contain("[frigate] ct/frigate.sh installs its own version; it must be 0.17.1 (manifest)")
            .And.NotContain(l => l.StartsWith("[frigate", StringComparison.Ordinal) && l.Contains("var_appversion", StringComparison.Ordinal))
            .And.NotContain(l => l.StartsWith("[zigbee2mqtt]", StringComparison.Ordinal) && l.Contains("var_appversion", StringComparison.Ordinal));

        var rows = await host.App.Service<ReleaseRepository>().ListTemplatesAsync(BuildHost.Release);
        rows.Select(r => (r.Name, r.AppVersion)).Should().BeEquivalentTo(new (string, string?)[]
        {
            ("zwave-exact", "11.2.0"), ("zigbee2mqtt", "2.7.2"), ("frigate", "0.17.1"), ("freepbx", null),
        });
    }
}
