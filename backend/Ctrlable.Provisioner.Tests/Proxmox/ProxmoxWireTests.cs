using System.Net;
using System.Text.Json;
using Ctrlable.Provisioner.Proxmox;
using Polly;

namespace Ctrlable.Provisioner.Tests.Proxmox;

public sealed class ProxmoxWireTests
{
    [Fact]
    public void Numbers_as_strings_and_booleans_as_numbers_are_read()
    {
        const string json = """{"id":"qemu/100","type":"qemu","vmid":"100","node":"pve1","template":1,"cpu":"0.25","maxmem":2147483648,"shared":0}""";

        var resource = JsonSerializer.Deserialize<ClusterResource>(json, ProxmoxJson.Options)!;

        resource.Vmid.Should().Be(100);
        resource.Template.Should().BeTrue();
        resource.Cpu.Should().Be(0.25);
        resource.Shared.Should().BeFalse();
        resource.Kind.Should().Be(GuestKind.Qemu);
    }

    [Fact]
    public void Guest_agent_interfaces_with_dashed_names_are_read()
    {
        const string json = """{"result":[{"name":"eth0","hardware-address":"bc:24:11:aa:bb:cc","ip-addresses":[{"ip-address-type":"ipv4","ip-address":"10.0.0.5","prefix":24}]}]}""";

        var result = JsonSerializer.Deserialize<QemuAgentResult<IReadOnlyList<GuestInterface>>>(json, ProxmoxJson.Options)!;

        result.Result.Should().ContainSingle().Which.IpAddresses.Should().ContainSingle().Which.IpAddress.Should().Be("10.0.0.5");
    }

    [Theory]
    [InlineData("9.1.3", "8.2", true)]
    [InlineData("8.2.0", "8.2", true)]
    [InlineData("8.1.10", "8.2", false)]
    [InlineData("7.4-17", "8.2", false)]
    public void Version_floor(string version, string minimum, bool ok)
    {
        ProxmoxVersions.IsAtLeast(version, minimum).Should().Be(ok);
    }

    [Fact]
    public void Old_version_is_refused_with_a_clear_message()
    {
        var act = () => ProxmoxVersions.EnsureAtLeast(new PveVersionInfo("8.1.4", "8.1"), "8.2");

        act.Should().Throw<ProxmoxVersionException>().WithMessage("Proxmox VE 8.1.4 is older than 8.2*");
    }

    [Theory]
    [InlineData("GET", 502, null, true)]
    [InlineData("GET", 500, "Internal Server Error", true)]
    [InlineData("GET", 501, "Method not implemented", false)]
    [InlineData("GET", 400, "Parameter verification failed.", false)]
    [InlineData("POST", 500, "Internal Server Error", false)]
    [InlineData("POST", 502, null, false)]
    [InlineData("POST", 500, "CT is locked (disk)", true)]
    [InlineData("PUT", 500, "VM is locked (clone)", true)]
    [InlineData("POST", 500, "can't lock file '/run/lock/lxc/pve-config-105.lock' - got timeout", true)]
    [InlineData("POST", 500, "CT 105 already exists on node 'pve1'", false)]
    public void Retries_only_safe_calls_and_lock_contention(string method, int status, string? reason, bool retried)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), "https://pve/api2/json/x");
        using var response = new HttpResponseMessage((HttpStatusCode)status) { ReasonPhrase = reason, RequestMessage = request };

        ProxmoxHttp.ShouldRetry(Outcome.FromResult(response), request).Should().Be(retried);
    }

    [Fact]
    public void Transport_errors_are_retried_for_get_only()
    {
        using var get = new HttpRequestMessage(HttpMethod.Get, "https://pve/x");
        using var post = new HttpRequestMessage(HttpMethod.Post, "https://pve/x");
        var dropped = Outcome.FromException<HttpResponseMessage>(new HttpRequestException("connection reset"));

        ProxmoxHttp.ShouldRetry(dropped, get).Should().BeTrue();
        ProxmoxHttp.ShouldRetry(dropped, post).Should().BeFalse("a clone whose answer was lost may have cloned");

        var closedWhileOpening = Outcome.FromException<HttpResponseMessage>(new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.NotConnected));
        ProxmoxHttp.ShouldRetry(closedWhileOpening, get).Should().BeTrue();
        ProxmoxHttp.ShouldRetry(closedWhileOpening, post).Should().BeFalse();
    }

    [Fact]
    public void Certificate_rejection_is_not_retried()
    {
        using var get = new HttpRequestMessage(HttpMethod.Get, "https://pve/x");
        var rejected = Outcome.FromException<HttpResponseMessage>(new HttpRequestException("ssl", new System.Security.Authentication.AuthenticationException("rejected")));

        ProxmoxHttp.ShouldRetry(rejected, get).Should().BeFalse();
    }

    [Fact]
    public void Connection_never_prints_its_secret()
    {
        var connection = new ProxmoxConnection(new Uri("https://pve:8006"), "ctrlable@pve!provisioner", "5ecret-uuid", "AA:BB", simulated: false);

        connection.ToString().Should().NotContain("5ecret-uuid");
        connection.BaseUrl.ToString().Should().Be("https://pve:8006/api2/json/");
    }
}
