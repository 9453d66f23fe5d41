using System.Net;
using System.Text;
using Ctrlable.PveSim.Tests.Support;

namespace Ctrlable.PveSim.Tests;

/// <summary>Requests Proxmox rejects are rejected with the same status, reason and errors.</summary>
public sealed class ValidationTests
{
    [Fact]
    public async Task Unknown_parameter_is_a_400_with_per_parameter_errors()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        var r = await api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150"), ("bogus", "1"));
        r.Status.Should().Be(HttpStatusCode.BadRequest);
        r.Reason.Should().Be("Parameter verification failed.");
        r.Message.Should().Be("Parameter verification failed.\n");
        r.Error("bogus").Should().Be("property is not defined in schema and the schema does not allow additional properties");
        r.Data.Should().BeNull();
    }

    [Fact]
    public async Task Pve_8_2_error_bodies_carry_no_message_only_the_reason_phrase()
    {
        var (sim, api) = await Sims.Start(PveVersion.V8_2);
        await using var _ = sim;
        var r = await api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "abc"));
        r.Status.Should().Be(HttpStatusCode.BadRequest);
        r.Reason.Should().Be("Parameter verification failed.");
        r.Body!.AsObject().ContainsKey("message").Should().BeFalse();
        r.Error("newid").Should().Be("type check ('integer') failed - got 'abc'");
    }

    [Fact]
    public async Task Missing_required_wrong_format_range_and_enum_use_proxmox_messages()
    {
        var (sim, api) = await Sims.Start(PveVersion.V8_2);
        await using var _ = sim;
        (await api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone")).Error("newid")
            .Should().Be("property is missing and it is not optional");
        (await api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "99"))).Error("newid")
            .Should().Be("invalid format - value does not look like a valid VM ID\n");
        (await api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150"), ("full", "true"))).Error("full")
            .Should().Be("type check ('boolean') failed - got 'true'");
        (await api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150"), ("hostname", "bad_name"))).Error("hostname")
            .Should().Be("invalid format - value does not look like a valid DNS name\n");
        (await api.Put($"nodes/pve1/lxc/{Sims.LxcTemplate}/config", ("memory", "8"))).Error("memory")
            .Should().Be("value must have a minimum value of 16");
        (await api.Get("nodes/pve1/rrddata", ("timeframe", "decade"))).Error("timeframe")
            .Should().Be("value 'decade' does not have a value in the enumeration 'hour, day, week, month, year'");
    }

    [Fact]
    public async Task The_enum_follows_the_emulated_version()
    {
        var (sim, api) = await Sims.Start(PveVersion.V9_1);
        await using var _ = sim;
        (await api.Get("nodes/pve1/rrddata", ("timeframe", "decade"))).Status.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Property_strings_are_validated_against_their_format()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        var path = $"nodes/pve1/lxc/{Sims.LxcTemplate2}/config";
        (await api.Put(path, ("net0", "bridge=vmbr0,ip=dhcp"))).Error("net0")
            .Should().Be("invalid format - format error\nnet0.name: property is missing and it is not optional\n");
        (await api.Put(path, ("net0", "name=eth0,hwaddr=01:00:5E:00:00:01"))).Error("net0")
            .Should().Contain("net0.hwaddr: invalid format - value does not look like a valid unicast MAC address");
        (await api.Put(path, ("net0", "name=eth0,colour=red"))).Error("net0")
            .Should().Be("invalid format - invalid key in comma-separated list property: colour\n");
        (await api.Put(path, ("net0", "name=eth0,tag=5000"))).Error("net0")
            .Should().Contain("net0.tag: value must have a maximum value of 4094");
        (await api.Put(path, ("net32", "name=eth0"))).Error("net32")
            .Should().Be("property is not defined in schema and the schema does not allow additional properties");
    }

    [Fact]
    public async Task Methods_and_paths_the_schema_does_not_define_are_501()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        var post = await api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/config", ("memory", "1024"));
        post.Status.Should().Be(HttpStatusCode.NotImplemented);
        post.Reason.Should().Be($"Method 'POST /nodes/pve1/lxc/{Sims.LxcTemplate}/config' not implemented");
        var unknown = await api.Get("nodes/pve1/bogus");
        unknown.Status.Should().Be(HttpStatusCode.NotImplemented);
        unknown.Reason.Should().Be("Method 'GET /nodes/pve1/bogus' not implemented");
    }

    [Fact]
    public async Task Chunked_bodies_and_content_on_get_are_refused_like_pveproxy()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        using var chunked = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes("{\"newid\":150}")));
        chunked.Headers.ContentType = new("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, $"nodes/pve1/lxc/{Sims.LxcTemplate}/clone") { Content = chunked };
        request.Headers.TransferEncodingChunked = true;
        using var response = await api.Http.SendAsync(request);
        response.StatusCode.Should().Be(HttpStatusCode.NotImplemented);
        response.ReasonPhrase.Should().Be("chunked transfer encoding not supported");

        var get = await api.Send(HttpMethod.Get, "version", new StringContent("x=1"));
        get.Status.Should().Be(HttpStatusCode.NotImplemented);
        get.Reason.Should().Be("Unexpected content for method 'GET'");
    }

    /// <summary>
    /// pveproxy's decode_urlencoded splits pairs on '&amp;' and ';' and keeps the first two '=' fields of a pair, so a
    /// client that does not percent-encode '=' and ';' inside a value gets a 400, never the value it meant.
    /// </summary>
    [Fact]
    public async Task A_raw_equals_sign_or_semicolon_in_a_form_value_cuts_it_as_pveproxy_does()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        var config = $"nodes/pve1/lxc/{Sims.LxcTemplate}/config";
        static StringContent Form(string body) => new(body, Encoding.UTF8, "application/x-www-form-urlencoded");

        var rawEquals = await api.Send(HttpMethod.Put, config, Form("net1=name=eth1,bridge=vmbr0,ip=dhcp"));
        rawEquals.Status.Should().Be(HttpStatusCode.BadRequest, rawEquals.ToString());
        rawEquals.Error("net1").Should().NotBeNull("the value arrived as 'name' alone");
        var rawSemicolon = await api.Send(HttpMethod.Put, config, Form("tags=alpha;beta"));
        rawSemicolon.Status.Should().Be(HttpStatusCode.BadRequest, rawSemicolon.ToString());
        rawSemicolon.Error("beta").Should().Be("property is not defined in schema and the schema does not allow additional properties");
        (await api.Get(config)).Data!["net1"].Should().BeNull("nothing of a refused request is stored");

        var encoded = await api.Send(HttpMethod.Put, config, Form("net1=name%3Deth1%2Cbridge%3Dvmbr0%2Cip%3Ddhcp&tags=alpha%3Bbeta"));
        encoded.Status.Should().Be(HttpStatusCode.OK, encoded.ToString());
        var stored = (await api.Get(config)).Data!;
        stored["net1"]!.GetValue<string>().Should().Contain("name=eth1").And.Contain("bridge=vmbr0");
        stored["tags"]!.GetValue<string>().Should().Be("alpha;beta");
    }

    [Fact]
    public async Task A_json_body_with_a_length_is_accepted()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        var r = await api.Send(HttpMethod.Post, $"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", new StringContent("{\"newid\":150,\"full\":false}", Encoding.UTF8, "application/json"));
        r.Status.Should().Be(HttpStatusCode.OK, r.ToString());
        (await api.WaitTask(r.Upid))["exitstatus"]!.GetValue<string>().Should().Be("OK");
    }

    [Fact]
    public async Task Body_values_may_not_contradict_the_path()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        var r = await api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150"), ("vmid", "9002"));
        r.Status.Should().Be(HttpStatusCode.BadRequest);
        r.Error("vmid").Should().Be("duplicate parameter (already defined in URI) with conflicting values!");
    }

    [Fact]
    public async Task Unknown_nodes_and_guests_fail_like_a_cluster_does()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        var node = await api.Get("nodes/nope/status");
        node.Status.Should().Be(HttpStatusCode.InternalServerError);
        node.Reason.Should().Be("hostname lookup 'nope' failed - failed to get address info for: nope: Name or service not known");
        var guest = await api.Get("nodes/pve1/lxc/999/config");
        guest.Status.Should().Be(HttpStatusCode.InternalServerError);
        guest.Reason.Should().Be("Configuration file 'nodes/pve1/lxc/999.conf' does not exist");
        var wrongKind = await api.Get($"nodes/pve1/lxc/{Sims.QemuTemplate}/status/current");
        wrongKind.Reason.Should().Be($"Configuration file 'nodes/pve1/lxc/{Sims.QemuTemplate}.conf' does not exist");
    }

    [Fact]
    public async Task Schema_endpoints_the_emulator_lacks_say_so_instead_of_pretending()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        var r = await api.Get("nodes/pve1/disks/list");
        r.Status.Should().Be(HttpStatusCode.NotImplemented);
        r.Reason.Should().Be("PveSim does not emulate 'GET /nodes/{node}/disks/list'");
    }

    [Fact]
    public async Task Nextid_is_a_string_and_a_taken_vmid_is_a_400()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        (await api.Get("cluster/nextid")).Data!.GetValue<string>().Should().Be("100");
        (await api.Get("cluster/nextid", ("vmid", "4242"))).Data!.GetValue<string>().Should().Be("4242");
        var taken = await api.Get("cluster/nextid", ("vmid", Sims.LxcTemplate.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        taken.Status.Should().Be(HttpStatusCode.BadRequest);
        taken.Error("vmid").Should().Be($"VM {Sims.LxcTemplate} already exists");
    }

    [Fact]
    public async Task Config_updates_need_options_a_matching_digest_and_known_delete_keys()
    {
        var (sim, api) = await Sims.Start();
        await using var _ = sim;
        var lxc = $"nodes/pve1/lxc/{Sims.LxcTemplate2}/config";
        (await api.Put(lxc)).Reason.Should().Be("no options specified");
        (await api.Put(lxc, ("memory", "1024"), ("digest", "0000"))).Reason
            .Should().Be("detected modified configuration - file changed by other user? Try again.");
        (await api.Put($"nodes/pve1/qemu/{Sims.QemuTemplate}/config", ("memory", "1024"), ("digest", "0000"))).Reason
            .Should().Be("checksum mismatch (file change by other user?)");
        var conflict = await api.Put(lxc, ("memory", "1024"), ("delete", "memory"));
        conflict.Status.Should().Be(HttpStatusCode.BadRequest);
        conflict.Error("delete").Should().Be("you can't use '-memory' and -delete memory' at the same time");
        (await api.Put(lxc, ("delete", "nosuch"))).Error("delete").Should().Be("unknown option 'nosuch'");
        (await api.Put(lxc, ("delete", "description"))).Status.Should().Be(HttpStatusCode.OK);
    }
}
