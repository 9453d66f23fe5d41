using System.Text.Json.Nodes;
using Ctrlable.PveSim.Auth;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Hosting;
using Ctrlable.PveSim.Schema;
using Ctrlable.PveSim.Seeding;

namespace Ctrlable.PveSim.Tests;

/// <summary>Property strings, formats, templates and the CLI, without a server.</summary>
public sealed class UnitTests
{
    private static JsonObject NetFormat(string kind) =>
        PveSchema.Load(PveVersion.V9_1).Find("PUT", $"/nodes/{{node}}/{kind}/{{vmid}}/config")!.FindProperty("net0")!["format"]!.AsObject();

    [Fact]
    public void Form_bodies_decode_as_pveproxy_decode_urlencoded_does()
    {
        var result = new Dictionary<string, System.Text.Json.Nodes.JsonNode?>(StringComparer.Ordinal) { ["kept"] = "yes" };

        Ctrlable.PveSim.Api.FormDecoding.Add(result, "a=1&b=x=y;flag&d=%41+B%e2%82%ac&a=2&&bad=%zz%4");

        result["a"]!.GetValue<string>().Should().Be("1\02", "a repeated key's values are joined with NUL");
        result["b"]!.GetValue<string>().Should().Be("x", "only the first two '=' fields of a pair count");
        result.Should().ContainKey("flag").WhoseValue.Should().BeNull("a pair without '=' has no value");
        result["d"]!.GetValue<string>().Should().Be("A B\u20ac");
        result["bad"]!.GetValue<string>().Should().Be("%zz%4", "an invalid escape stays as written");
        result["kept"]!.GetValue<string>().Should().Be("yes");
        result.Should().HaveCount(6);
    }

    [Fact]
    public void Lxc_net_lines_print_required_keys_first_then_sorted()
    {
        var net = PropertyString.Parse(NetFormat("lxc"), "type=veth,ip=dhcp,hwaddr=BC:24:11:AA:BB:CC,bridge=vmbr0,name=eth0,firewall=on", "net0");
        net["firewall"].Should().Be("1", "booleans in property strings accept on/yes/true");
        PropertyString.Print(net, NetFormat("lxc")).Should().Be("name=eth0,bridge=vmbr0,firewall=1,hwaddr=BC:24:11:AA:BB:CC,ip=dhcp,type=veth");
    }

    [Fact]
    public void Qemu_net_lines_use_the_model_as_key_for_the_mac()
    {
        var net = PropertyString.Parse(NetFormat("qemu"), "bridge=vmbr0,virtio=BC:24:11:AA:BB:CC,tag=20", "net0");
        net["model"].Should().Be("virtio");
        net["macaddr"].Should().Be("BC:24:11:AA:BB:CC");
        PropertyString.Print(net, NetFormat("qemu")).Should().Be("virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,tag=20");
    }

    [Fact]
    public void Property_string_errors_stringify_like_perl_exceptions()
    {
        var act = () => PropertyString.Parse(NetFormat("lxc"), "bridge=vmbr0", "net0");
        act.Should().Throw<PropertyStringException>().Which.PerlText.Should().Be("format error\nnet0.name: property is missing and it is not optional\n");
        var dup = () => PropertyString.Parse(NetFormat("lxc"), "name=a,name=b", "net0");
        dup.Should().Throw<PropertyStringException>().WithMessage("duplicate key in comma-separated list property: name");
    }

    [Theory]
    [InlineData(8L << 30, "8G")]
    [InlineData(512L << 20, "512M")]
    [InlineData(1536L << 20, "1536M")]
    [InlineData(1000, "1000")]
    public void Disk_sizes_format_in_the_largest_exact_unit(long bytes, string text)
    {
        Formats.FormatSize(bytes).Should().Be(text);
        Formats.ParseSize(text).Should().Be(bytes);
    }

    [Theory]
    [InlineData("mac-addr", "BC:24:11:00:00:01", true)]
    [InlineData("mac-addr", "01:24:11:00:00:01", false)]
    [InlineData("pve-vmid", "100", true)]
    [InlineData("pve-vmid", "099", false)]
    [InlineData("pve-ipv4-config", "10.0.0.5/24", true)]
    [InlineData("pve-ipv4-config", "10.0.0.5", false)]
    [InlineData("pve-tag-list", "a;b-c;ctrlable-firstboot", true)]
    [InlineData("pve-configid-list", "net0,memory", true)]
    [InlineData("pve-storage-id", "l", false)]
    [InlineData("dns-name", "zwave-site1.lan", true)]
    public void Formats_accept_and_reject_like_proxmox(string format, string value, bool ok) =>
        (Formats.Verify(format, value) is null).Should().Be(ok);

    [Fact]
    public void Missing_placeholders_become_a_dash()
    {
        PermissionChecker.TemplateReplace("/pool/{pool}", new Dictionary<string, string>()).Should().Be("/pool/-");
        PermissionChecker.TemplateReplace("/vms/{vmid}", new Dictionary<string, string> { ["vmid"] = "105" }).Should().Be("/vms/105");
    }

    [Fact]
    public void Built_in_roles_match_the_release()
    {
        Privileges.BuiltInRoles(PveVersion.V8_2)["PVEVMAdmin"].Should().Contain("VM.Monitor");
        Privileges.BuiltInRoles(PveVersion.V9_1)["PVEVMAdmin"].Should().NotContain("VM.Monitor").And.Contain("VM.GuestAgent.Unrestricted");
        Privileges.BuiltInRoles(PveVersion.V9_1)["PVEAuditor"].Should().Contain("VM.GuestAgent.Audit");
        Privileges.BuiltInRoles(PveVersion.V9_1)["PVETemplateUser"].Should().BeEquivalentTo("VM.Clone", "VM.Audit");
    }

    [Fact]
    public void The_address_allocator_hands_out_the_lowest_free_address_and_keeps_leases()
    {
        var ips = new SequentialIpAllocator("127.0.30.0/24", firstHost: 2);
        ips.Allocate(101).ToString().Should().Be("127.0.30.2");
        ips.Allocate(102).ToString().Should().Be("127.0.30.3");
        ips.Allocate(101).ToString().Should().Be("127.0.30.2");
        ips.Release(101);
        ips.Allocate(103).ToString().Should().Be("127.0.30.2");
        ips.Gateway.ToString().Should().Be("127.0.30.1");
    }

    [Fact]
    public void The_cli_reads_nodes_version_port_and_release_templates()
    {
        var manifest = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../../releases/2026.06.yaml"));
        var cli = CommandLine.Parse(["--port", "8106", "--nodes", "pve1,pve2", "--version", "8.2", "--release", manifest, "--timing-scale", "0.5"])!;
        cli.Simulator.Port.Should().Be(8106);
        cli.Simulator.Nodes.Should().Equal("pve1", "pve2");
        cli.Simulator.Version.Should().Be(PveVersion.V8_2);
        cli.Simulator.TimingScale.Should().Be(0.5);
        var templates = cli.Simulator.Seed!.Templates;
        templates.Select(t => t.Vmid).Should().Equal(9000, 9001, 9002, 9003, 9004, 9005);
        templates[0].Kind.Should().Be(GuestKind.Qemu);
        templates[0].DiskGiB.Should().Be(32);
        templates.Should().OnlyContain(t => t.FirstBoot && t.Pool == "ctrlable-templates");
        cli.Simulator.Seed.Roles.Single(r => r.RoleId == LeastPrivilege.RoleId).Privileges.Should().Contain("VM.Monitor");
        CommandLine.Parse(["--bogus"]).Should().BeNull();
    }

    [Fact]
    public void Disk_lines_reprint_with_sorted_options_like_proxmox()
    {
        GuestDisk.Parse("local-lvm:base-9000-disk-0,size=32G,discard=on,ssd=1").Print("local-lvm:vm-150-disk-0")
            .Should().Be("local-lvm:vm-150-disk-0,discard=on,size=32G,ssd=1");
        GuestDisk.Parse("local-lvm:vm-1-disk-1,size=4G,mp=/data,backup=1").Print("local-lvm:vm-2-disk-1")
            .Should().Be("local-lvm:vm-2-disk-1,mp=/data,backup=1,size=4G");
    }

    [Fact]
    public void Upids_round_trip()
    {
        var upid = new Tasks.Upid("pve1", 0xA1F01, 0x0BFA20BB, 0x6B072B47, "vzclone", "9001", "ctrlable@pve!provisioner");
        upid.ToString().Should().Be("UPID:pve1:000A1F01:0BFA20BB:6B072B47:vzclone:9001:ctrlable@pve!provisioner:");
        Tasks.Upid.TryParse(upid.ToString()).Should().Be(upid);
    }

    [Fact]
    public void Least_privilege_spec_grants_the_role_to_user_and_token()
    {
        var spec = LeastPrivilege.Spec(PveVersion.V9_1);
        spec.Acls.Where(a => a.Path == "/pool/ctrlable").Select(a => a.Subject).Should().BeEquivalentTo("ctrlable@pve", "ctrlable@pve!provisioner");
    }
}
