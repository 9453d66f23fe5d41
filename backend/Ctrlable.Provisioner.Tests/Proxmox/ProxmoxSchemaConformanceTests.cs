using System.Reflection;
using System.Text.Json.Nodes;
using System.Web;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim;
using Ctrlable.PveSim.Schema;

namespace Ctrlable.Provisioner.Tests.Proxmox;

/// <summary>
/// Every request the product's Proxmox client can send is checked against Proxmox's official API schema
/// of 8.2 and 9.1: the path exists, the method exists on it, and every parameter (path, query and form)
/// passes the schema's names, types and formats.
/// </summary>
public sealed class ProxmoxSchemaConformanceTests
{
    [Fact]
    public async Task Every_client_call_conforms_to_the_8_2_and_9_1_schemas()
    {
        await using var pve = await ProxmoxHarness.StartAsync();
        var exercised = await ExerciseEveryCallAsync(pve);

        var publicCalls = typeof(ProxmoxClient).GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly).Select(m => m.Name).ToHashSet();
        exercised.Should().BeEquivalentTo(publicCalls, "every call of the client must be exercised here, so a new call cannot escape the schema check");

        var requests = pve.Recorder.Requests.ToList();
        requests.Should().NotBeEmpty();
        foreach (var version in new[] { PveVersion.V8_2, PveVersion.V9_1 })
        {
            var schema = PveSchema.Load(version);
            foreach (var request in requests)
            {
                var relative = request.Path["/api2/json".Length..];
                var match = schema.Match(relative);
                match.Should().NotBeNull($"{request.Method} {relative} must exist in the {version} schema");
                var endpoint = schema.Find(request.Method, match!.Value.Template);
                endpoint.Should().NotBeNull($"{request.Method} {match.Value.Template} must be defined in the {version} schema");

                var parameters = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
                foreach (var (key, value) in match.Value.UriParams)
                {
                    parameters[key] = JsonValue.Create(value);
                }

                foreach (var source in new[] { request.Query.TrimStart('?'), request.Form })
                {
                    var pairs = HttpUtility.ParseQueryString(source);
                    foreach (var key in pairs.AllKeys.OfType<string>())
                    {
                        parameters[key] = JsonValue.Create(pairs[key]);
                    }
                }

                ParameterValidator.Validate(endpoint!, parameters).Should().BeEmpty($"{request.Method} {relative} with ({string.Join(", ", parameters.Keys)}) against {version}");
            }
        }
    }

    /// <summary>Calls each public method of the client once with realistic arguments; returns the names called.</summary>
    private static async Task<HashSet<string>> ExerciseEveryCallAsync(ProxmoxHarness pve)
    {
        var called = new HashSet<string>();
        var ct = CancellationToken.None;
        var client = pve.Client;
        const string node = "pve1";

        await client.GetVersionAsync(ct); called.Add(nameof(client.GetVersionAsync));
        await client.GetPermissionsAsync("/pool/ctrlable", ct); called.Add(nameof(client.GetPermissionsAsync));
        await client.GetNodesAsync(ct); called.Add(nameof(client.GetNodesAsync));
        await client.GetNodeStatusAsync(node, ct); called.Add(nameof(client.GetNodeStatusAsync));
        await client.GetClusterResourcesAsync(null, ct);
        await client.GetClusterResourcesAsync("vm", ct); called.Add(nameof(client.GetClusterResourcesAsync));
        await client.GetStoragesAsync(node, ct); called.Add(nameof(client.GetStoragesAsync));
        foreach (var timeframe in Enum.GetValues<RrdTimeframe>())
        {
            await client.GetNodeRrdAsync(node, timeframe, ct);
        }

        called.Add(nameof(client.GetNodeRrdAsync));
        var lxc = await client.GetNextIdAsync(ct); called.Add(nameof(client.GetNextIdAsync));
        await client.IsVmidFreeAsync(lxc, ct); called.Add(nameof(client.IsVmidFreeAsync));

        var upid = await client.CloneAsync(node, GuestKind.Lxc, ProxmoxHarness.LxcTemplate, new CloneRequest(lxc, "conf-lxc", "conformance", "ctrlable", Full: false), ct);
        await pve.Tasks.WaitAsync(node, upid, TimeSpan.FromSeconds(30), ct);
        var qemu = lxc + 1;
        var qemuUpid = await client.CloneAsync(node, GuestKind.Qemu, ProxmoxHarness.QemuTemplate, new CloneRequest(qemu, "conf-vm", "conformance", "ctrlable", Full: true, Storage: "local-lvm"), ct);
        await pve.Tasks.WaitAsync(node, qemuUpid, TimeSpan.FromSeconds(30), ct);
        called.Add(nameof(client.CloneAsync));
        await client.GetTaskStatusAsync(node, upid, ct); called.Add(nameof(client.GetTaskStatusAsync));
        await client.GetTaskLogAsync(node, upid, 0, 50, ct); called.Add(nameof(client.GetTaskLogAsync));
        (await client.GetTasksSinceAsync(node, 0, ct)).Should().Contain(t => t.Upid == upid && t.Status == "OK" && t.Endtime != null);
        called.Add(nameof(client.GetTasksSinceAsync));

        foreach (var (kind, vmid) in new[] { (GuestKind.Lxc, lxc), (GuestKind.Qemu, qemu) })
        {
            var config = await client.GetGuestConfigAsync(node, kind, vmid, ct);
            await client.UpdateConfigAsync(node, kind, vmid, new Dictionary<string, string> { ["net0"] = config["net0"], ["description"] = "changed", ["tags"] = "ctrlable" }, ["onboot"], config["digest"], ct);
            var start = await client.StartAsync(node, kind, vmid, ct);
            await client.GetRunningTasksAsync(node, vmid, ct);
            await pve.Tasks.WaitAsync(node, start, TimeSpan.FromSeconds(30), ct);
            called.Add(nameof(client.GetRunningTasksAsync));
            await client.GetGuestStatusAsync(node, kind, vmid, ct);
            await client.GetGuestRrdAsync(node, kind, vmid, RrdTimeframe.Hour, ct);
            await WaitForInterfacesAsync(client, node, kind, vmid);
            await pve.Tasks.WaitAsync(node, await client.RebootAsync(node, kind, vmid, ct), TimeSpan.FromSeconds(30), ct);
            await pve.Tasks.WaitAsync(node, await client.ShutdownAsync(node, kind, vmid, 30, ct), TimeSpan.FromSeconds(30), ct);
            await pve.Tasks.WaitAsync(node, await client.StartAsync(node, kind, vmid, ct), TimeSpan.FromSeconds(30), ct);
            await pve.Tasks.WaitAsync(node, await client.StopAsync(node, kind, vmid, ct), TimeSpan.FromSeconds(30), ct);
            await pve.Tasks.WaitAsync(node, await client.CreateSnapshotAsync(node, kind, vmid, "conformance", "before the upgrade", ct), TimeSpan.FromSeconds(30), ct);
            await client.ListSnapshotsAsync(node, kind, vmid, ct);
            await pve.Tasks.WaitAsync(node, await client.RollbackSnapshotAsync(node, kind, vmid, "conformance", ct), TimeSpan.FromSeconds(30), ct);
            await pve.Tasks.WaitAsync(node, await client.DeleteSnapshotAsync(node, kind, vmid, "conformance", ct), TimeSpan.FromSeconds(30), ct);

            // A guest backup, restored into a new guest, then removed (§8h).
            await pve.Tasks.WaitAsync(node, await client.VzdumpAsync(node, [vmid], "local", "ctrlable-backup conformance", ct), TimeSpan.FromSeconds(30), ct);
            var archive = (await client.GetBackupsAsync(node, "local", vmid, ct)).Should().ContainSingle().Subject;
            var restored = vmid + 10;
            await pve.Tasks.WaitAsync(node, await client.RestoreAsync(node, kind, restored, archive.Volid, "local-lvm", "ctrlable", ct), TimeSpan.FromSeconds(30), ct);
            await pve.Tasks.WaitAsync(node, await client.DeleteAsync(node, kind, restored, ct), TimeSpan.FromSeconds(30), ct);
            if (await client.DeleteVolumeAsync(node, "local", archive.Volid, ct) is { } removal)
            {
                await pve.Tasks.WaitAsync(node, removal, TimeSpan.FromSeconds(30), ct);
            }

            await client.ConvertToTemplateAsync(node, kind, vmid, ct);
            await pve.Tasks.WaitAsync(node, await client.DestroyTemplateAsync(node, kind, vmid, ct), TimeSpan.FromSeconds(30), ct);
        }

        called.UnionWith([
            nameof(client.GetGuestConfigAsync), nameof(client.UpdateConfigAsync), nameof(client.StartAsync), nameof(client.GetGuestStatusAsync),
            nameof(client.GetGuestRrdAsync), nameof(client.GetGuestInterfacesAsync), nameof(client.RebootAsync), nameof(client.ShutdownAsync),
            nameof(client.StopAsync), nameof(client.ConvertToTemplateAsync), nameof(client.DeleteAsync),
            nameof(client.CreateSnapshotAsync), nameof(client.ListSnapshotsAsync), nameof(client.RollbackSnapshotAsync), nameof(client.DeleteSnapshotAsync),
            nameof(client.VzdumpAsync), nameof(client.GetBackupsAsync), nameof(client.RestoreAsync), nameof(client.DeleteVolumeAsync), nameof(client.DestroyTemplateAsync),
        ]);
        return called;
    }

    private static async Task WaitForInterfacesAsync(ProxmoxClient client, string node, GuestKind kind, int vmid)
    {
        for (var i = 0; i < 200; i++)
        {
            try
            {
                if (await client.GetGuestInterfacesAsync(node, kind, vmid, CancellationToken.None) is { Count: > 0 })
                {
                    return;
                }
            }
            catch (ProxmoxException ex) when (ex.ProxmoxMessage.Contains("agent", StringComparison.OrdinalIgnoreCase))
            {
                // The QEMU guest agent answers a few seconds after boot.
            }

            await Task.Delay(25);
        }

        throw new TimeoutException($"guest {vmid} reported no interfaces");
    }
}
