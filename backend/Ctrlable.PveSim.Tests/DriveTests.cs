using System.Buffers.Binary;
using System.Net;
using System.Text.Json.Nodes;
using Ctrlable.PveSim.Tests.Support;

namespace Ctrlable.PveSim.Tests;

/// <summary>
/// QEMU drives on file paths (root@pam only) and qm set of drives: import-from onto a storage, unusedN for a
/// replaced owned volume, delete and force — the sequence the template build runs through the host CLI.
/// </summary>
public sealed class DriveTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pvesim-drives-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Root_creates_a_vm_on_a_file_path_then_qm_set_imports_it_onto_a_storage()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        using var cli = Cli(sim);
        var raw = SparseRaw("haos.raw", 32L << 30);

        var create = await cli.RunTask(cli.Post("nodes/pve1/qemu", ("vmid", "400"), ("name", "haos"), ("bios", "ovmf"),
            ("efidisk0", "local-lvm:0,efitype=4m,pre-enrolled-keys=0"), ("scsi0", $"{raw},format=raw,ssd=1,discard=on"),
            ("boot", "order=scsi0"), ("net0", "virtio,bridge=vmbr0")));
        create["exitstatus"]!.GetValue<string>().Should().Be("OK");
        var config = await Config(api, 400);
        config["scsi0"]!.GetValue<string>().Should().Be($"{raw},discard=on,format=raw,size=32G,ssd=1", "create_disks records a path's size, options sorted");
        config["efidisk0"]!.GetValue<string>().Should().Be("local-lvm:vm-400-disk-0,efitype=4m,pre-enrolled-keys=0,size=4M");
        (await api.Get("nodes/pve1/qemu/400/status/current")).Data!["maxdisk"]!.GetValue<long>().Should().Be(32L << 30, "maxdisk is the boot-order disk's size");

        (await api.RunTask(api.Post("nodes/pve1/qemu/400/status/start")))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        (await api.RunTask(api.Post("nodes/pve1/qemu/400/status/stop")))["exitstatus"]!.GetValue<string>().Should().Be("OK");

        var set = await cli.Put("nodes/pve1/qemu/400/config", ("scsi0", $"local-lvm:0,import-from={raw},discard=on,ssd=1"));
        set.Status.Should().Be(HttpStatusCode.OK, set.ToString());
        config = await Config(api, 400);
        config["scsi0"]!.GetValue<string>().Should().Be("local-lvm:vm-400-disk-1,discard=on,size=32G,ssd=1");
        config.Select(c => c.Key).Should().NotContain(k => k.StartsWith("unused", StringComparison.Ordinal), "a path is no PVE-managed volume");

        // Replacing a volume the VM owns keeps it as unused0; the new volume takes the next free number.
        var qcow2 = Qcow2("haos.qcow2", 8L << 30);
        (await cli.Put("nodes/pve1/qemu/400/config", ("scsi0", $"local-lvm:0,import-from={qcow2},discard=on,ssd=1"))).Status.Should().Be(HttpStatusCode.OK);
        config = await Config(api, 400);
        config["scsi0"]!.GetValue<string>().Should().Be("local-lvm:vm-400-disk-2,discard=on,size=8G,ssd=1", "the qcow2 header's virtual size");
        config["unused0"]!.GetValue<string>().Should().Be("local-lvm:vm-400-disk-1");

        // Re-attaching the unused volume: the replaced one is parked first (unused1), then writing the config drops unused0.
        (await cli.Put("nodes/pve1/qemu/400/config", ("scsi0", "local-lvm:vm-400-disk-1,discard=on,size=32G,ssd=1"))).Status.Should().Be(HttpStatusCode.OK);
        config = await Config(api, 400);
        config["unused1"]!.GetValue<string>().Should().Be("local-lvm:vm-400-disk-2");
        config.AsObject().ContainsKey("unused0").Should().BeFalse();

        var template = await cli.RunTask(cli.Post("nodes/pve1/qemu/400/template"));
        template["exitstatus"]!.GetValue<string>().Should().Be("OK");
        (await Config(api, 400))["scsi0"]!.GetValue<string>().Should().Be("local-lvm:base-400-disk-1,discard=on,size=32G,ssd=1");

        var destroy = await api.Delete("nodes/pve1/qemu/400");
        (await api.WaitTask(destroy.Upid))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        (await Log(api, destroy.Upid)).Where(l => l.Contains("successfully removed", StringComparison.Ordinal)).Should().BeEquivalentTo(
            "  Logical volume \"base-400-disk-0\" successfully removed.",
            "  Logical volume \"base-400-disk-1\" successfully removed.",
            "  Logical volume \"vm-400-disk-2\" successfully removed.");
        File.Exists(raw).Should().BeTrue("destroy leaves the files behind the import alone");
    }

    [Fact]
    public async Task A_path_drive_survives_template_and_destroy_is_removed_by_delete_and_blocks_clones()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        using var cli = Cli(sim);
        var raw = SparseRaw("disk.raw", 1L << 30);

        (await cli.RunTask(cli.Post("nodes/pve1/qemu", ("vmid", "401"), ("scsi0", $"{raw},format=raw"), ("scsi1", "local-lvm:2"))))["exitstatus"]!
            .GetValue<string>().Should().Be("OK");
        (await api.Get("nodes/pve1/qemu/401/status/current")).Data!["maxdisk"]!.GetValue<long>().Should().Be(2L << 30, "without a boot order the first volume counts");

        var clone = await api.Post("nodes/pve1/qemu/401/clone", ("newid", "402"));
        clone.Status.Should().Be(HttpStatusCode.InternalServerError);
        clone.Reason.Should().Be($"unable to parse volume ID '{raw}'");

        (await cli.RunTask(cli.Post("nodes/pve1/qemu/401/template")))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        var config = await Config(api, 401);
        config["scsi0"]!.GetValue<string>().Should().Be($"{raw},format=raw,size=1G", "template_create skips a path: it has no 'template' feature");
        config["scsi1"]!.GetValue<string>().Should().Be("local-lvm:base-401-disk-0,size=2G");

        (await cli.Put("nodes/pve1/qemu/401/config", ("delete", "scsi0"))).Status.Should().Be(HttpStatusCode.OK);
        config = await Config(api, 401);
        config.AsObject().ContainsKey("scsi0").Should().BeFalse();
        config.Select(c => c.Key).Should().NotContain(k => k.StartsWith("unused", StringComparison.Ordinal));

        (await api.RunTask(api.Delete("nodes/pve1/qemu/401")))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        File.Exists(raw).Should().BeTrue();

        var missing = await cli.RunTask(cli.Post("nodes/pve1/qemu", ("vmid", "403"), ("scsi0", $"{_dir}/absent.raw")));
        missing["exitstatus"]!.GetValue<string>().Should().Be($"unable to create VM 403 - volume {_dir}/absent.raw does not exist");
    }

    [Theory]
    [MemberData(nameof(Sims.BothVersions), MemberType = typeof(Sims))]
    public async Task Only_root_can_pass_file_paths(PveVersion version)
    {
        var (sim, api) = await Sims.Start(version);
        await using var _ = sim;
        using var cli = Cli(sim);
        var raw = SparseRaw("haos.raw", 1L << 30);
        var message = $"Only root can pass arbitrary filesystem paths. at /usr/share/perl5/PVE/Storage.pm line {(version == PveVersion.V8_2 ? 543 : 651)}.";

        // root@pam!admin holds every privilege, but a token is never root@pam.
        foreach (var call in new[]
        {
            api.Post("nodes/pve1/qemu", ("vmid", "410"), ("scsi0", $"{raw},format=raw")),
            api.Post("nodes/pve1/qemu", ("vmid", "410"), ("scsi0", $"local-lvm:0,import-from={raw}")),
        })
        {
            var refused = await call;
            refused.Status.Should().Be(HttpStatusCode.InternalServerError);
            refused.Reason.Should().Be(message);
        }

        (await api.Get("nodes/pve1/qemu/410/config")).Status.Should().Be(HttpStatusCode.InternalServerError, "nothing was created");
        (await cli.RunTask(cli.Post("nodes/pve1/qemu", ("vmid", "410"), ("scsi0", $"{raw},format=raw"))))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        var before = (await Config(api, 410))["scsi0"]!.GetValue<string>();
        foreach (var value in new[] { $"local-lvm:0,import-from={raw},discard=on", $"{raw},format=raw,ssd=1" })
        {
            var refused = await api.Put("nodes/pve1/qemu/410/config", ("scsi0", value));
            refused.Status.Should().Be(HttpStatusCode.InternalServerError);
            refused.Reason.Should().Be(message);
        }

        (await Config(api, 410))["scsi0"]!.GetValue<string>().Should().Be(before);
        (await cli.Put("nodes/pve1/qemu/410/config", ("scsi0", $"{raw},format=raw,ssd=1"))).Status.Should().Be(HttpStatusCode.OK);
        (await Config(api, 410))["scsi0"]!.GetValue<string>().Should().Be($"{raw},format=raw,size=1G,ssd=1");
    }

    [Fact]
    public async Task Qm_set_allocates_checks_storage_and_disk_privileges_and_detaches_owned_volumes()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        (await api.RunTask(api.Post("nodes/pve1/qemu", ("vmid", "420"), ("scsi0", "local-lvm:4"))))["exitstatus"]!.GetValue<string>().Should().Be("OK");

        var sized = await api.Put("nodes/pve1/qemu/420/config", ("scsi1", "local-lvm:4,import-from=local:import/x.qcow2"));
        sized.Status.Should().Be(HttpStatusCode.BadRequest);
        sized.Error("scsi1").Should().Be("'import-from' requires special syntax - use <storage ID>:0,import-from=<source>");
        (await api.Put("nodes/pve1/qemu/420/config", ("scsi1", "nowhere:4"))).Reason.Should().Be("storage 'nowhere' does not exist");
        var noImages = await api.Put("nodes/pve1/qemu/420/config", ("scsi1", "local:4"));
        noImages.Error("storage").Should().Be("storage 'local' does not support vm images");
        (await api.Put("nodes/pve1/qemu/420/config", ("scsi1", "local-lvm:0,import-from=local:import/none.qcow2"))).Reason
            .Should().Be("cannot import from 'local:import/none.qcow2' - could not get size of local:import/none.qcow2");

        (await api.Put("nodes/pve1/qemu/420/config", ("scsi1", "local-lvm:2,format=qcow2,iothread=1"))).Status.Should().Be(HttpStatusCode.OK);
        var config = await Config(api, 420);
        config["scsi1"]!.GetValue<string>().Should().Be("local-lvm:vm-420-disk-1,iothread=1,size=2G", "format is the storage's business");

        // A user with VM.Config.Options but not VM.Config.Disk may not touch drives.
        Access.Role(sim, "OptionsOnly", "VM.Audit", "VM.Config.Options", "Datastore.AllocateSpace");
        using var user = Sims.Client(sim, Access.Token(sim, "opts@pve", "OptionsOnly", "/vms/420", "/storage"));
        var denied = await user.Put("nodes/pve1/qemu/420/config", ("scsi2", "local-lvm:1"));
        denied.Status.Should().Be(HttpStatusCode.Forbidden);
        denied.Reason.Should().Be("Permission check failed (/vms/420, VM.Config.Disk)");
        (await user.Put("nodes/pve1/qemu/420/config", ("delete", "scsi1"))).Status.Should().Be(HttpStatusCode.Forbidden);

        // delete detaches an owned volume to unusedN; delete of unusedN or force frees it.
        (await api.Put("nodes/pve1/qemu/420/config", ("delete", "scsi1"))).Status.Should().Be(HttpStatusCode.OK);
        config = await Config(api, 420);
        config.AsObject().ContainsKey("scsi1").Should().BeFalse();
        config["unused0"]!.GetValue<string>().Should().Be("local-lvm:vm-420-disk-1");
        (await api.Put("nodes/pve1/qemu/420/config", ("delete", "unused0"))).Status.Should().Be(HttpStatusCode.OK);
        (await Config(api, 420)).AsObject().ContainsKey("unused0").Should().BeFalse();

        (await api.Put("nodes/pve1/qemu/420/config", ("protection", "1"))).Status.Should().Be(HttpStatusCode.OK);
        (await api.Put("nodes/pve1/qemu/420/config", ("delete", "scsi0"))).Reason.Should().Be("can't remove drive 'scsi0' - protection mode enabled");
        (await api.Put("nodes/pve1/qemu/420/config", ("delete", "protection"))).Status.Should().Be(HttpStatusCode.OK);
        (await api.Put("nodes/pve1/qemu/420/config", ("delete", "scsi0"), ("force", "1"))).Status.Should().Be(HttpStatusCode.OK);
        config = await Config(api, 420);
        config.Select(c => c.Key).Should().NotContain(k => k.StartsWith("unused", StringComparison.Ordinal) || k == "scsi0");
    }

    private static ApiClient Cli(PveSimulator sim)
    {
        var cli = Sims.Client(sim, Sims.AdminToken(sim));
        cli.Http.DefaultRequestHeaders.Add("X-PveSim-Cli", "root");
        return cli;
    }

    private static async Task<JsonObject> Config(ApiClient api, int vmid)
    {
        var response = await api.Get($"nodes/pve1/qemu/{vmid}/config");
        response.Status.Should().Be(HttpStatusCode.OK, response.ToString());
        return response.Data!.AsObject();
    }

    private static async Task<List<string>> Log(ApiClient api, string upid) =>
        (await api.Get($"nodes/pve1/tasks/{Uri.EscapeDataString(upid)}/log")).Data!.AsArray().Select(l => l!["t"]!.GetValue<string>()).ToList();

    /// <summary>A raw image of <paramref name="size"/> bytes that takes no space (as an unpacked HAOS image would, mostly).</summary>
    private string SparseRaw(string name, long size)
    {
        var path = Path.Combine(_dir, name);
        using var file = new FileStream(path, FileMode.CreateNew);
        file.SetLength(size);
        return path;
    }

    /// <summary>A qcow2 header (magic, version 3, virtual size at offset 24) without data.</summary>
    private string Qcow2(string name, long virtualSize)
    {
        var path = Path.Combine(_dir, name);
        var header = new byte[104];
        BinaryPrimitives.WriteUInt32BigEndian(header, 0x514649FB);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), 3);
        BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(24), (ulong)virtualSize);
        File.WriteAllBytes(path, header);
        return path;
    }
}
