using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.State;
using Ctrlable.PveSim.Guests;

namespace Ctrlable.Provisioner.Tests.Build;

/// <summary>
/// Root on the customer's host never touches a guest this run did not create. Through the real pipeline (orchestrator,
/// sshd, wrapper, stand-ins on the emulator): other people's guests at VMIDs of every length, a guest created while a
/// builder runs, a description forging this script's marker and a builder that creates its container elsewhere are
/// all reported or ignored, never stopped, changed or destroyed; only this host's ledger lets a later run remove
/// what an earlier one built. And identity resets in a mounted container never follow the guest's links onto the host.
/// </summary>
public sealed class GuestOwnershipTests
{
    private const string Header = $$"""
        release: "{{BuildHost.Release}}"
        community_scripts_ref: "{{BuildHost.Ref}}"
        community_scripts_commit: "{commit}"
        proxmox_min_version: "8.2"
        templates:

        """;

    [Fact]
    public async Task Guests_this_build_did_not_create_stay_untouched_through_success_failure_a_stray_builder_and_a_forced_rebuild()
    {
        const string manifest = Header + """
              zwavejs:
                kind: lxc
                builder: ct/zwave-js-ui.sh
                vmid: 9101
                resources: { cpu: 1, ram: 512, disk: 4 }
              broken:
                kind: lxc
                builder: ct/broken.sh
                vmid: 9102
                resources: { cpu: 1, ram: 512, disk: 4 }
              forged:
                kind: lxc
                builder: ct/zwave-js-ui.sh
                vmid: 9104
                resources: { cpu: 1, ram: 512, disk: 4 }
              stray:
                kind: lxc
                builder: ct/stray.sh
                vmid: 9105
                resources: { cpu: 1, ram: 512, disk: 4 }
            """;
        await using var host = await BuildHost.StartAsync(manifest);
        // VMIDs of three lengths (sorted as numbers and as text they differ), and at a template's own VMID a
        // template whose description forges this script's marker for this release and template (anyone with
        // VM.Config.Options can write one; another commit, so no build takes it for a finished template).
        var foreign = new Dictionary<int, GuestSnapshot>
        {
            [100] = host.AddForeignGuest(100, GuestKind.Lxc, "Pi-hole of the customer (ask Jo)", running: true),
            [999] = host.AddForeignGuest(999, GuestKind.Qemu, "Customer NAS"),
            [10000] = host.AddForeignGuest(10000, GuestKind.Lxc, "Another integrator's template", template: true),
            [9104] = host.AddForeignGuest(9104, GuestKind.Lxc,
                $"ctrlable-build release={BuildHost.Release} template=forged commit={new string('0', 40)} app_version=1.0", template: true),
        };
        using var client = await host.ClientAsync(Role.Operator);

        var first = await BuildPipelineTests.StartAndWaitAsync(host, client);

        first.GetProperty("state").GetString().Should().Be("failed", BuildPipelineTests.Describe(first, host));
        var templates = Templates(first);
        templates["zwavejs"].State.Should().Be("built", BuildPipelineTests.Describe(first, host));
        templates["broken"].Should().Be(("failed", "ct/broken.sh failed with exit code 3 (see the log)"));
        templates["stray"].Should().Be(("failed",
            "the builder created CT 101 instead of the manifest's 9105; not being at the VMID this build asked for, it is left in place (remove it by hand)"));
        templates["forged"].Should().Be(("failed", "VMID 9104 holds a template this host's ledger does not list; remove it by hand or choose another vmid"));
        AssertUntouched(host, foreign);
        host.Guest(9102).Should().BeNull("the failed template's container was this build's own");
        host.Snapshot(101).Should().NotBeNull("the builder's container at a VMID nobody asked for is reported, never removed");
        var firstRun = RunId(host.Guest(9101)!);
        var ledger = Path.Combine(host.Directory, "work", "created.tsv");
        File.GetUnixFileMode(ledger).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        (await File.ReadAllLinesAsync(ledger)).Should().ContainSingle().Which.Should().StartWith($"9101\tlxc\t{firstRun}\t02:");

        // A forced rebuild: what this host's ledger lists for the release goes and is built again; nothing else. (zwavejs
        // made the release active; force is refused for the active release, so another one becomes active first.)
        var now = DateTimeOffset.UtcNow;
        await host.App.Service<ReleaseRepository>().ActivateAsync("2026.06", BuildHost.Ref, null,
            [new TemplateRow(0, "2026.06", "zwavejs", "lxc", 9001, BuildHost.Node, BuildHost.Ref, null, null, now)], now, CancellationToken.None);
        var forced = await client.PostAsJsonAsync($"/api/releases/{BuildHost.Release}/build", new { force = true });
        forced.StatusCode.Should().Be(HttpStatusCode.Accepted, await forced.Content.ReadAsStringAsync());
        var second = await BuildPipelineTests.WaitAsync(host, client, (await forced.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64());

        second.GetProperty("state").GetString().Should().Be("failed", BuildPipelineTests.Describe(second, host));
        templates = Templates(second);
        templates["zwavejs"].State.Should().Be("built", BuildPipelineTests.Describe(second, host));
        templates["forged"].Should().Be(("failed", "VMID 9104 holds a template this host's ledger does not list; remove it by hand or choose another vmid"));
        templates["stray"].Error.Should().StartWith("the builder created CT 102 instead of the manifest's 9105;");
        AssertUntouched(host, foreign);
        host.Snapshot(101).Should().NotBeNull();
        var secondRun = RunId(host.Guest(9101)!);
        secondRun.Should().NotBe(firstRun, "the template of the first build was removed and built again");
        (await File.ReadAllLinesAsync(ledger)).Should().ContainSingle().Which.Should().StartWith($"9101\tlxc\t{secondRun}\t02:");
        var log = (await client.GetFromJsonAsync<JsonElement>($"/api/builds/{second.GetProperty("id").GetInt64()}")).GetProperty("log").GetString();
        log.Should().Contain($"text=Removing the earlier lxc 9101 this host built (run {firstRun})");
    }

    [Fact]
    public async Task A_guest_created_while_the_builder_runs_is_left_alone()
    {
        const string manifest = Header + """
              concurrent:
                kind: lxc
                builder: ct/concurrent.sh
                vmid: 9107
                resources: { cpu: 1, ram: 512, disk: 4 }
            """;
        await using var host = await BuildHost.StartAsync(manifest);
        var ready = Path.Combine(host.Directory, "hook.ready");
        var go = Path.Combine(host.Directory, "hook.go");
        // Called by the fixture builder before it creates its container: says so, then waits for the test.
        var hook = Path.Combine(host.Directory, "bin", "ctrlable-fixture-hook");
        await File.WriteAllTextAsync(hook, $"#!/bin/sh\ntouch '{ready}'\nwhile [ ! -e '{go}' ]; do sleep 0.05; done\n");
        File.SetUnixFileMode(hook, (UnixFileMode)0b111_101_101);
        using var client = await host.ClientAsync(Role.Operator);

        var building = BuildPipelineTests.StartAndWaitAsync(host, client);
        GuestSnapshot deploy;
        try
        {
            await WaitForAsync(() => File.Exists(ready), building);
            deploy = host.AddForeignGuest(9150, GuestKind.Lxc, "deploy 7: zwavejs of site Acme", running: true);
        }
        finally
        {
            await File.WriteAllTextAsync(go, "");
        }

        var build = await building;

        build.GetProperty("state").GetString().Should().Be("succeeded", BuildPipelineTests.Describe(build, host));
        host.Snapshot(9150).Should().BeEquivalentTo(deploy, o => o.WithStrictOrdering(), "a guest someone else created meanwhile is not this build's");
        host.Guest(9107)!["template"].Should().Be("1");
    }

    [Theory]
    [InlineData("machine-id")]
    [InlineData("ssh")]
    public async Task Links_the_guest_plants_never_lead_the_identity_reset_to_the_hosts_own_files(string planted)
    {
        const string manifest = Header + """
              planter:
                kind: lxc
                builder: ct/planter.sh
                vmid: 9108
                resources: { cpu: 1, ram: 512, disk: 4 }
            """;
        await using var host = await BuildHost.StartAsync(manifest);
        // Stand-ins for the host's /etc/shadow and /root/.ssh, which the fixture's install links to.
        var files = Path.Combine(host.Directory, "host-files");
        Directory.CreateDirectory(Path.Combine(files, "root-ssh"));
        var originals = new Dictionary<string, string>
        {
            ["shadow"] = "root:$y$j9T$host-hash:19000:0:99999:7:::\n",
            ["root-ssh/ssh_host_ed25519_key"] = "the host's own key\n",
            ["root-ssh/authorized_keys"] = "ssh-ed25519 AAAA admin\n",
        };
        foreach (var (name, content) in originals)
        {
            await File.WriteAllTextAsync(Path.Combine(files, name), content);
        }

        await File.WriteAllTextAsync(Path.Combine(files, "plant"), planted + "\n");
        using var client = await host.ClientAsync(Role.Operator);

        var build = await BuildPipelineTests.StartAndWaitAsync(host, client);

        build.GetProperty("state").GetString().Should().Be("failed");
        Templates(build)["planter"].Should().Be(("failed",
            $"/etc/{planted} in CT 9108 is a symbolic link: clearing identity through it from the host could change the host's own files; refused"));
        foreach (var (name, content) in originals)
        {
            (await File.ReadAllTextAsync(Path.Combine(files, name))).Should().Be(content, $"host-files/{name} stands for a file of the host");
        }

        host.Guest(9108).Should().BeNull("the container was this build's own, so the failed template removed it");
    }

    private static Dictionary<string, (string State, string? Error)> Templates(JsonElement build) =>
        build.GetProperty("templates").EnumerateArray().ToDictionary(
            t => t.GetProperty("name").GetString()!,
            t => (t.GetProperty("state").GetString()!, t.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null));

    private static void AssertUntouched(BuildHost host, Dictionary<int, GuestSnapshot> guests)
    {
        foreach (var (vmid, before) in guests)
        {
            host.Snapshot(vmid).Should().BeEquivalentTo(before, o => o.WithStrictOrdering(), $"guest {vmid} is not this build's");
        }
    }

    private static string RunId(IReadOnlyDictionary<string, string> config)
    {
        var match = Regex.Match(config["description"], " run=([0-9a-f]{16}) ");
        match.Success.Should().BeTrue(config["description"]);
        return match.Groups[1].Value;
    }

    /// <summary>Waits until <paramref name="condition"/> holds; fails if the build ends first.</summary>
    private static async Task WaitForAsync(Func<bool> condition, Task build)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        while (!condition())
        {
            build.IsCompleted.Should().BeFalse("the builder should have reached its hook before the build ended");
            await Task.Delay(20, timeout.Token);
        }
    }
}
