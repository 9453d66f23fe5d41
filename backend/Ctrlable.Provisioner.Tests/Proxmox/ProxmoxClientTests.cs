using System.Net;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim;
using Ctrlable.PveSim.Faults;

namespace Ctrlable.Provisioner.Tests.Proxmox;

public sealed class ProxmoxClientTests
{
    private static readonly TimeSpan TaskTimeout = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("8.2")]
    [InlineData("9.1")]
    public async Task Reads_version_nodes_resources_and_node_status(string version)
    {
        await using var pve = await ProxmoxHarness.StartAsync(version == "8.2" ? PveVersion.V8_2 : PveVersion.V9_1, nodes: ["pve1", "pve2"]);
        var ct = CancellationToken.None;

        var info = await pve.Client.GetVersionAsync(ct);
        var nodes = await pve.Client.GetNodesAsync(ct);
        var resources = await pve.Client.GetClusterResourcesAsync(null, ct);
        var status = await pve.Client.GetNodeStatusAsync("pve2", ct);

        info.Version.Should().StartWith(version);
        nodes.Select(n => n.Node).Should().BeEquivalentTo(["pve1", "pve2"]);
        nodes.Should().OnlyContain(n => n.SslFingerprint != null && n.Maxmem > 0, "the token has Sys.Audit on /nodes");
        resources.Where(r => r.Type == "node").Select(r => r.Node).Should().BeEquivalentTo(["pve1", "pve2"]);
        resources.Should().Contain(r => r.Vmid == ProxmoxHarness.LxcTemplate && r.Template == true);
        resources.Should().NotContain(r => r.Vmid == ProxmoxHarness.ForeignGuest, "the token has no VM.Audit outside its pools");
        status.Memory.Total.Should().BeGreaterThan(0);
        status.Loadavg.Should().HaveCount(3);
        status.Pveversion.Should().Contain(version);
    }

    [Fact]
    public async Task Clone_configure_start_discover_stop_and_delete_an_lxc()
    {
        await using var pve = await ProxmoxHarness.StartAsync();
        var ct = CancellationToken.None;
        var vmid = await pve.Client.GetNextIdAsync(ct);

        var upid = await pve.Client.CloneAsync("pve1", GuestKind.Lxc, ProxmoxHarness.LxcTemplate, new CloneRequest(vmid, "site-zwavejs", "project site", Pool: "ctrlable"), ct);
        (await pve.Tasks.WaitAsync("pve1", upid, TaskTimeout, ct)).Succeeded.Should().BeTrue();
        (await pve.Client.IsVmidFreeAsync(vmid, ct)).Should().BeFalse();

        var config = await pve.Client.GetGuestConfigAsync("pve1", GuestKind.Lxc, vmid, ct);
        config["hostname"].Should().Be("site-zwavejs");
        config["net0"].Should().Contain("hwaddr=BC:24:11:");
        var net0 = config["net0"].Replace(config["net0"].Split("hwaddr=")[1][..17], "BC:24:11:0A:0B:0C", StringComparison.Ordinal);
        await pve.Client.UpdateConfigAsync("pve1", GuestKind.Lxc, vmid, new Dictionary<string, string> { ["net0"] = net0, ["tags"] = "ctrlable;site" }, null, null, ct);
        (await pve.Client.GetGuestConfigAsync("pve1", GuestKind.Lxc, vmid, ct))["net0"].Should().Contain("hwaddr=BC:24:11:0A:0B:0C");

        (await pve.Tasks.WaitAsync("pve1", await pve.Client.StartAsync("pve1", GuestKind.Lxc, vmid, ct), TaskTimeout, ct)).Succeeded.Should().BeTrue();
        (await pve.Client.GetGuestStatusAsync("pve1", GuestKind.Lxc, vmid, ct)).Status.Should().Be("running");
        IReadOnlyList<GuestInterface> interfaces = [];
        // The link-local IPv6 address is there at once; the DHCP IPv4 one comes with the guest's boot.
        await Eventually.TrueAsync(
            async () => (interfaces = await pve.Client.GetGuestInterfacesAsync("pve1", GuestKind.Lxc, vmid, ct) ?? []).Any(n => n.Name == "eth0" && n.IpAddresses?.Any(a => a.IpAddressType == "inet") == true),
            "the guest's DHCP IPv4 address");

        interfaces.Single(n => n.Name == "eth0").IpAddresses!.Should().Contain(a => a.IpAddressType == "inet");

        (await pve.Tasks.WaitAsync("pve1", await pve.Client.StopAsync("pve1", GuestKind.Lxc, vmid, ct), TaskTimeout, ct)).Succeeded.Should().BeTrue();
        (await pve.Tasks.WaitAsync("pve1", await pve.Client.DeleteAsync("pve1", GuestKind.Lxc, vmid, ct), TaskTimeout, ct)).Succeeded.Should().BeTrue();
        (await pve.Client.IsVmidFreeAsync(vmid, ct)).Should().BeTrue();
    }

    [Fact]
    public async Task Proxmox_errors_carry_its_message_and_parameter_errors()
    {
        await using var pve = await ProxmoxHarness.StartAsync();
        var ct = CancellationToken.None;

        var running = () => pve.Client.DeleteAsync("pve1", GuestKind.Qemu, ProxmoxHarness.ForeignGuest, ct);
        var badClone = () => pve.Client.CloneAsync("pve1", GuestKind.Lxc, ProxmoxHarness.LxcTemplate, new CloneRequest(42, "x", Pool: "ctrlable"), ct);

        (await running.Should().ThrowAsync<ProxmoxException>()).Which.Status.Should().Be(HttpStatusCode.Forbidden, "the guest is outside the product's pool");
        var invalid = (await badClone.Should().ThrowAsync<ProxmoxException>()).Which;
        invalid.Status.Should().Be(HttpStatusCode.BadRequest);
        invalid.Errors.Should().ContainKey("newid");
        invalid.Message.Should().Contain("newid").And.NotContain(pve.Connection.TokenSecret);
    }

    [Fact]
    public async Task Concurrent_clones_of_one_lxc_template_are_retried_past_the_disk_lock()
    {
        await using var pve = await ProxmoxHarness.StartAsync();
        var ct = CancellationToken.None;

        var upids = await Task.WhenAll(Enumerable.Range(0, 2).Select(i =>
            pve.Client.CloneAsync("pve1", GuestKind.Lxc, ProxmoxHarness.LxcTemplate, new CloneRequest(300 + i, $"c{i}", Pool: "ctrlable"), ct)));

        foreach (var upid in upids)
        {
            (await pve.Tasks.WaitAsync("pve1", upid, TaskTimeout, ct)).Succeeded.Should().BeTrue();
        }

        pve.Recorder.Requests.Count(r => r.Method == "POST" && r.Path.EndsWith("/clone", StringComparison.Ordinal))
            .Should().BeGreaterThan(2, "the second clone met 'CT is locked (disk)' and was retried");
    }

    [Fact]
    public async Task Server_errors_on_get_are_retried()
    {
        await using var pve = await ProxmoxHarness.StartAsync();
        pve.Sim.Faults.Settings = new FaultSettings { ServerErrorRate = 0.5, ServerErrorStatus = 502, PathPattern = "/version" };

        for (var i = 0; i < 10; i++)
        {
            (await pve.Client.GetVersionAsync(CancellationToken.None)).Version.Should().NotBeEmpty();
        }

        pve.Recorder.Requests.Count(r => r.Path.EndsWith("/version", StringComparison.Ordinal)).Should().BeGreaterThan(10);
    }

    [Fact]
    public async Task A_failed_clone_post_is_not_retried()
    {
        await using var pve = await ProxmoxHarness.StartAsync();
        pve.Sim.Faults.Settings = new FaultSettings { ServerErrorRate = 1, ServerErrorStatus = 500, ServerErrorMessage = "proxy handler failed: got timeout", PathPattern = "/clone" };

        var clone = () => pve.Client.CloneAsync("pve1", GuestKind.Lxc, ProxmoxHarness.LxcTemplate, new CloneRequest(300, "c", Pool: "ctrlable"), CancellationToken.None);

        (await clone.Should().ThrowAsync<ProxmoxException>()).Which.ProxmoxMessage.Should().Contain("got timeout");
        pve.Recorder.Requests.Count(r => r.Path.EndsWith("/clone", StringComparison.Ordinal)).Should().Be(1);
    }

    [Fact]
    public async Task A_certificate_other_than_the_pinned_one_is_refused_naming_both()
    {
        const string pinned = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF";
        await using var pve = await ProxmoxHarness.StartAsync(pinnedFingerprint: pinned);

        var act = () => pve.Client.GetVersionAsync(CancellationToken.None);

        var error = (await act.Should().ThrowAsync<ProxmoxCertificateException>()).Which;
        error.Message.Should().Contain(pinned).And.Contain(pve.Sim.CertificateFingerprint);
        pve.Recorder.Requests.Should().ContainSingle("a certificate mismatch is not retried");
    }

    [Fact]
    public async Task A_slow_host_hits_the_timeout()
    {
        await using var pve = await ProxmoxHarness.StartAsync(configure: o =>
        {
            o.AttemptTimeoutSeconds = 1;
            o.TotalTimeoutSeconds = 1.5;
        });
        // Slower than every attempt, and than all of them together: without the timeouts the call would succeed.
        pve.Sim.Faults.Settings = new FaultSettings { LatencyMs = 30_000, PathPattern = "/version" };

        var act = () => pve.Client.GetVersionAsync(CancellationToken.None);

        await act.Should().ThrowAsync<Polly.Timeout.TimeoutRejectedException>();
        // Each attempt gives up after 1 s; the total timeout ends the call after 1.5 s, long before the retry strategy's
        // five attempts (which alone would take over 4 s) have run: counted, not timed.
        pve.Recorder.Requests.Count(r => r.Path.EndsWith("/version", StringComparison.Ordinal)).Should().BeInRange(1, 4);
    }

    [Fact]
    public async Task Task_wait_reports_failure_with_the_log_tail()
    {
        await using var pve = await ProxmoxHarness.StartAsync();
        pve.Sim.Faults.Settings = new FaultSettings { TaskFailureRate = 1, TaskFailureMessage = "clone failed: disk full" };
        var ct = CancellationToken.None;

        var upid = await pve.Client.CloneAsync("pve1", GuestKind.Lxc, ProxmoxHarness.LxcTemplate, new CloneRequest(301, "c", Pool: "ctrlable"), ct);
        var outcome = await pve.Tasks.WaitAsync("pve1", upid, TaskTimeout, ct);

        outcome.Succeeded.Should().BeFalse();
        outcome.ExitStatus.Should().Contain("disk full");
        outcome.LogTail.Should().Contain(l => l.StartsWith("TASK ERROR:", StringComparison.Ordinal));
        outcome.Describe().Should().Contain("disk full");
    }

    [Fact]
    public async Task Task_wait_honours_its_timeout_and_cancellation()
    {
        await using var pve = await ProxmoxHarness.StartAsync();
        var ct = CancellationToken.None;
        // The clone runs until the test ends, however long the waits below take on a loaded machine.
        var never = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        pve.Sim.Tasks.Gate = task => task.Upid.Type == "qmclone" ? never.Task : Task.CompletedTask;
        var upid = await pve.Client.CloneAsync("pve1", GuestKind.Qemu, ProxmoxHarness.QemuTemplate, new CloneRequest(302, "vm", Pool: "ctrlable", Full: true), ct);

        var timedOut = () => pve.Tasks.WaitAsync("pve1", upid, TimeSpan.FromMilliseconds(50), ct);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
        var cancelled = () => pve.Tasks.WaitAsync("pve1", upid, TaskTimeout, cancel.Token);

        await timedOut.Should().ThrowAsync<TimeoutException>();
        await cancelled.Should().ThrowAsync<OperationCanceledException>();
    }
}
