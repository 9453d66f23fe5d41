using System.Buffers.Binary;
using System.Net;
using Ctrlable.PveSim.Auth;
using Ctrlable.PveSim.Hosting;
using Ctrlable.PveSim.Tests.Support;

namespace Ctrlable.PveSim.Tests;

/// <summary>Creating guests (pct create / qm create through the API), templates on storages, resize, and the host CLI mode.</summary>
public sealed class CreateTests
{
    private const string Debian12 = "debian-12-standard_12.12-1_amd64.tar.zst";

    [Fact]
    public async Task Pct_create_needs_the_os_template_on_the_storage_and_builds_the_config_proxmox_writes()
    {
        // The create runs 2 s (200 s at the tests' scale): long enough that the config is read while it holds its lock.
        var (sim, api) = await Sims.Start(timings: new SimTimings { CreateContainer = TimeSpan.FromSeconds(200) });
        await using var _ = sim;

        var missing = await api.RunTask(api.Post("nodes/pve1/lxc", ("vmid", "300"), ("ostemplate", $"local:vztmpl/{Debian12}"), ("rootfs", "local-lvm:4")));
        missing["exitstatus"]!.GetValue<string>().Should().Be($"unable to create CT 300 - volume 'local:vztmpl/{Debian12}' does not exist");
        (await api.Get("nodes/pve1/lxc/300/config")).Status.Should().Be(HttpStatusCode.InternalServerError, "a failed create leaves no CT behind");

        (await api.RunTask(api.Post("nodes/pve1/aplinfo", ("storage", "local"), ("template", Debian12))))["exitstatus"]!.GetValue<string>().Should().Be("OK");
        var content = await api.Get("nodes/pve1/storage/local/content", ("content", "vztmpl"));
        content.Data!.AsArray().Select(v => v!["volid"]!.GetValue<string>()).Should().Equal($"local:vztmpl/{Debian12}");

        var create = await api.Post("nodes/pve1/lxc", ("vmid", "300"), ("ostemplate", $"local:vztmpl/{Debian12}"), ("hostname", "zwavejs"),
            ("cores", "2"), ("memory", "2048"), ("rootfs", "local-lvm:8"), ("net0", "name=eth0,bridge=vmbr0,ip=dhcp"),
            ("unprivileged", "1"), ("features", "nesting=1"), ("onboot", "1"), ("tags", "community-script;zwave"));
        create.Status.Should().Be(HttpStatusCode.OK, create.ToString());
        (await api.Get("nodes/pve1/lxc/300/config")).Data!["lock"]!.GetValue<string>().Should().Be("create");
        (await api.WaitTask(create.Upid))["exitstatus"]!.GetValue<string>().Should().Be("OK");

        var config = (await api.Get("nodes/pve1/lxc/300/config")).Data!;
        config["rootfs"]!.GetValue<string>().Should().Be("local-lvm:vm-300-disk-0,size=8G");
        config["hostname"]!.GetValue<string>().Should().Be("zwavejs");
        config["ostype"]!.GetValue<string>().Should().Be("debian");
        config["unprivileged"]!.GetValue<int>().Should().Be(1);
        config["net0"]!.GetValue<string>().Should().MatchRegex("^name=eth0,bridge=vmbr0,hwaddr=BC:24:11:[0-9A-F:]{8},ip=dhcp,type=veth$");
        config.AsObject().ContainsKey("lock").Should().BeFalse();

        var again = await api.Post("nodes/pve1/lxc", ("vmid", "300"), ("ostemplate", $"local:vztmpl/{Debian12}"));
        again.Reason.Should().Be("CT 300 already exists on node 'pve1'");
        var onVm = await api.Post("nodes/pve1/lxc", ("vmid", $"{Sims.QemuTemplate}"), ("ostemplate", $"local:vztmpl/{Debian12}"));
        onVm.Reason.Should().Be($"VM {Sims.QemuTemplate} already exists on node 'pve1'");

        (await api.Post("nodes/pve1/lxc/300/template")).Status.Should().Be(HttpStatusCode.OK);
        // The LXC call converts in the background: wait for the template flag, then look at its disk.
        await Until.True(async () => (await api.Get("nodes/pve1/lxc/300/config")).Data!["template"] is { } t && t.GetValue<int>() == 1, "CT 300 is a template");
        (await api.Get("nodes/pve1/lxc/300/config")).Data!["rootfs"]!.GetValue<string>().Should().StartWith("local-lvm:base-300-disk-0");
    }

    [Fact]
    public async Task Root_only_options_need_the_host_cli_and_tokens_never_are_root()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        (await api.RunTask(api.Post("nodes/pve1/aplinfo", ("storage", "local"), ("template", Debian12))))["exitstatus"]!.GetValue<string>().Should().Be("OK");

        var privilegedNesting = await api.Post("nodes/pve1/lxc", ("vmid", "301"), ("ostemplate", $"local:vztmpl/{Debian12}"), ("storage", "local-lvm"), ("features", "nesting=1"));
        privilegedNesting.Status.Should().Be(HttpStatusCode.Forbidden);
        privilegedNesting.Reason.Should().Be("Permission check failed (changing feature flags for privileged container is only allowed for root@pam)");

        var path = await api.Post("nodes/pve1/qemu", ("vmid", "302"), ("scsi0", "local-lvm:0,import-from=/tmp/image.qcow2"));
        path.Status.Should().Be(HttpStatusCode.InternalServerError, "PVE::Storage::check_volume_access dies plainly");
        path.Reason.Should().Be("Only root can pass arbitrary filesystem paths. at /usr/share/perl5/PVE/Storage.pm line 651.");

        using var cli = new ApiClient(sim.CreateClient(Sims.AdminToken(sim)));
        cli.Http.DefaultRequestHeaders.Add("X-PveSim-Cli", "root");
        (await cli.RunTask(cli.Post("nodes/pve1/lxc", ("vmid", "301"), ("ostemplate", $"local:vztmpl/{Debian12}"), ("storage", "local-lvm"), ("features", "nesting=1"))))["exitstatus"]!
            .GetValue<string>().Should().Be("OK");
        (await cli.Get("nodes/pve1/tasks", ("limit", "1"))).Data![0]!["user"]!.GetValue<string>().Should().Be("root@pam");

        // A privilege-separated root@pam token is not the CLI.
        ApiTokenCredentials separated;
        lock (sim.State.Sync)
        {
            separated = sim.State.Access.AddToken("root@pam", "separated", privsep: true);
        }

        using var notCli = new ApiClient(sim.CreateClient(separated));
        notCli.Http.DefaultRequestHeaders.Add("X-PveSim-Cli", "root");
        (await notCli.Post("nodes/pve1/lxc", ("vmid", "303"), ("ostemplate", $"local:vztmpl/{Debian12}"), ("storage", "local-lvm"), ("features", "nesting=1")))
            .Status.Should().Be(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Qm_create_allocates_and_imports_disks_and_resize_only_grows()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        var image = Path.Combine(Path.GetTempPath(), $"pvesim-{Guid.NewGuid():N}.qcow2");
        var header = new byte[64];
        header[0] = 0x51;
        header[1] = 0x46;
        header[2] = 0x49;
        header[3] = 0xFB;
        BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(24), 32UL << 30);
        await File.WriteAllBytesAsync(image, header);
        try
        {
            using var cli = new ApiClient(sim.CreateClient(Sims.AdminToken(sim)));
            cli.Http.DefaultRequestHeaders.Add("X-PveSim-Cli", "root");
            var create = await cli.RunTask(cli.Post("nodes/pve1/qemu", ("vmid", "310"), ("name", "haos"), ("machine", "q35"), ("bios", "ovmf"),
                ("agent", "enabled=1"), ("efidisk0", "local-lvm:0,efitype=4m,pre-enrolled-keys=0"),
                ("scsi0", $"local-lvm:0,import-from={image},discard=on,ssd=1"), ("boot", "order=scsi0"), ("net0", "virtio,bridge=vmbr0"), ("serial0", "socket")));
            create["exitstatus"]!.GetValue<string>().Should().Be("OK");

            var config = (await api.Get("nodes/pve1/qemu/310/config")).Data!;
            config["efidisk0"]!.GetValue<string>().Should().Be("local-lvm:vm-310-disk-0,efitype=4m,pre-enrolled-keys=0,size=4M");
            config["scsi0"]!.GetValue<string>().Should().Be("local-lvm:vm-310-disk-1,discard=on,size=32G,ssd=1");
            config["net0"]!.GetValue<string>().Should().MatchRegex("^virtio=BC:24:11:[0-9A-F:]{8},bridge=vmbr0$");
            config["smbios1"]!.GetValue<string>().Should().StartWith("uuid=");

            (await api.Put("nodes/pve1/qemu/310/resize", ("disk", "scsi0"), ("size", "16G"))).Reason.Should().Be("shrinking disks is not supported");
            (await api.RunTask(api.Put("nodes/pve1/qemu/310/resize", ("disk", "scsi0"), ("size", "40G"))))["exitstatus"]!.GetValue<string>().Should().Be("OK");
            (await api.Get("nodes/pve1/qemu/310/config")).Data!["scsi0"]!.GetValue<string>().Should().Contain("size=40G");

            var missing = await cli.RunTask(cli.Post("nodes/pve1/qemu", ("vmid", "311"), ("scsi0", "local-lvm:0,import-from=/nonexistent/haos.qcow2")));
            missing["exitstatus"]!.GetValue<string>().Should().Be("unable to create VM 311 - can't find file '/nonexistent/haos.qcow2'");
            (await api.Get("nodes/pve1/qemu/311/config")).Status.Should().Be(HttpStatusCode.InternalServerError);
        }
        finally
        {
            File.Delete(image);
        }
    }
}
