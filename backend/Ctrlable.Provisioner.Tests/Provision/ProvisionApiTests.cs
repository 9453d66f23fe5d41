using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.Secrets;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim.Faults;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace Ctrlable.Provisioner.Tests.Provision;

/// <summary>
/// The provision endpoints over real HTTPS, called from the guest's own address (127.0.10.x) as Proxmox reports it.
/// One orchestrator and emulator for the class; each test deploys its own guests.
/// </summary>
public sealed class ProvisionApiTests(ProvisionApiTests.Fixture fixture) : IClassFixture<ProvisionApiTests.Fixture>
{
    public sealed class Fixture : IAsyncLifetime
    {
        internal FirstBootHarness Harness { get; private set; } = null!;

        public async Task InitializeAsync() => Harness = await FirstBootHarness.StartAsync();

        public async Task DisposeAsync() => await Harness.DisposeAsync();
    }

    private FirstBootHarness H => fixture.Harness;

    [Theory]
    [InlineData(TemplateTypes.Zigbee2Mqtt)]
    [InlineData(TemplateTypes.ZwaveJs)]
    [InlineData(TemplateTypes.Frigate)]
    [InlineData(TemplateTypes.DockerPortainer)]
    [InlineData(TemplateTypes.FreePbx)]
    public async Task A_guest_fetches_its_assignment_reports_complete_and_then_it_is_consumed(string type)
    {
        var guest = await H.DeployAsync(type);
        using var client = await H.GuestClientAsync(guest);

        var response = await client.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}");

        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        var assignment = await response.Content.ReadFromJsonAsync<JsonElement>();
        assignment.GetProperty("hostname").GetString().Should().Be(guest.Hostname);
        assignment.GetProperty("type").GetString().Should().Be(type);
        assignment.GetProperty("release").GetString().Should().Be(FirstBootHarness.Release);
        await AssertContentAsync(type, guest, assignment);
        var personalising = await H.InstanceAsync(guest.Id);
        personalising.State.Should().Be(InstanceStates.Personalising);
        personalising.Ip.Should().Be((await H.AddressOfAsync(guest)).ToString());
        personalising.PersonalisingAt.Should().NotBeNull();
        var credential = assignment.GetProperty("instanceCredential").GetString();
        credential.Should().MatchRegex("^[0-9a-f]{64}$");

        // The guest keeps its credential and fetches with it from then on (a run cut short resumes): the same
        // assignment, without a credential this time.
        using var withCredential = await H.GuestClientAsync(guest, withSecret: false);
        withCredential.DefaultRequestHeaders.Add(ProvisionApi.CredentialHeader, credential);
        var again = await withCredential.GetFromJsonAsync<JsonElement>($"/api/provision/assignment?hostname={guest.Hostname}");
        again.TryGetProperty("instanceCredential", out _).Should().BeFalse();
        again.GetRawText().Should().Be(WithoutCredential(assignment));

        var complete = await withCredential.PostAsJsonAsync("/api/provision/complete",
            new { hostname = guest.Hostname, status = "ok", message = "all wired", versions = new Dictionary<string, string> { ["app"] = "1.2.3" } });

        complete.StatusCode.Should().Be(HttpStatusCode.NoContent, await complete.Content.ReadAsStringAsync());
        var active = await H.InstanceAsync(guest.Id);
        active.State.Should().Be(InstanceStates.Active);
        active.FirstbootMessage.Should().Be("all wired");
        active.Error.Should().BeNull();
        JsonSerializer.Deserialize<Dictionary<string, string>>(active.InstalledVersions!).Should().Equal(new Dictionary<string, string> { ["app"] = "1.2.3" });
        active.CompletedAt.Should().NotBeNull();
        (await H.HistoryAsync(guest.Id)).Should().Equal("waiting>personalising", "personalising>active");

        // After complete the credential is good for nothing, and neither is the release secret.
        var replay = await withCredential.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}");
        await ShouldBeProblemAsync(replay, HttpStatusCode.Gone, "consumed");
        var completeAgain = await withCredential.PostAsJsonAsync("/api/provision/complete", new { hostname = guest.Hostname, status = "failed" });
        await ShouldBeProblemAsync(completeAgain, HttpStatusCode.Gone, "consumed");
        await ShouldBeProblemAsync(await client.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}"), HttpStatusCode.Gone, "consumed");
        (await H.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Active);
    }

    [Fact]
    public async Task Once_the_guest_used_its_credential_the_release_secret_alone_neither_reads_nor_completes_its_first_boot()
    {
        var guest = await H.DeployAsync(TemplateTypes.ZwaveJs);
        using var claim = await H.ClaimAsync(guest);
        using var withSecret = await H.GuestClientAsync(guest);

        var second = await withSecret.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}");

        var problem = await ShouldBeProblemAsync(second, HttpStatusCode.Conflict, "claimed");
        problem.GetProperty("detail").GetString().Should().Contain(ProvisionApi.CredentialHeader);
        second.Headers.RetryAfter.Should().BeNull("a claimed assignment stays claimed: nothing to wait for");
        var wrong = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        await ShouldBeProblemAsync(await GetWithCredentialAsync(withSecret, guest.Hostname, wrong), HttpStatusCode.Forbidden, "denied");
        var secretOnly = await withSecret.PostAsJsonAsync("/api/provision/complete", new { hostname = guest.Hostname, status = "ok" });
        secretOnly.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await secretOnly.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("instanceCredential", out _).Should().BeTrue();
        await ShouldBeProblemAsync(await PostCompleteAsync(withSecret, guest.Hostname, wrong, "ok"), HttpStatusCode.Forbidden, "denied");
        (await H.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Personalising, "no refused call changes anything");

        // Only the credential's SHA-256 is stored.
        await using (var connection = await H.App.Service<Database>().OpenAsync())
        {
            var row = await connection.QuerySingleAsync<(string Hash, string? ConfirmedAt)>(
                "SELECT credential_sha256, confirmed_at FROM firstboot_claims WHERE instance_id = @id;", new { id = guest.Id });
            row.Hash.Should().Be(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(claim.Credential))));
            row.ConfirmedAt.Should().NotBeNull();
            (await connection.QueryAsync<string>("SELECT quote(instance_id) || quote(credential_sha256) || quote(claimed_at) || quote(claimed_from) || quote(confirmed_at) FROM firstboot_claims;"))
                .Should().NotContain(r => r.Contains(claim.Credential, StringComparison.Ordinal));
        }

        (await claim.Client.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await claim.Client.PostAsJsonAsync("/api/provision/complete", new { hostname = guest.Hostname, status = "ok" })).StatusCode.Should().Be(HttpStatusCode.NoContent);
    }

    /// <summary>Where guests reach the orchestrator through NAT, the release secret stood alone; a claimed assignment now stays its guest's.</summary>
    [Fact]
    public async Task A_sibling_guest_with_the_release_secret_can_neither_read_nor_complete_another_instance_s_claimed_first_boot()
    {
        await using var h = await FirstBootHarness.StartAsync(settings: new Dictionary<string, string?> { ["Provision:RequireGuestAddress"] = "false" });
        var victim = await h.DeployAsync(TemplateTypes.Zigbee2Mqtt, start: false);
        var sibling = await h.DeployAsync(TemplateTypes.Zigbee2Mqtt, start: false);
        await h.SetStateAsync(victim.Id, InstanceStates.Waiting);
        await h.SetStateAsync(sibling.Id, InstanceStates.Waiting);
        using var victimClaim = await h.ClaimAsync(victim, IPAddress.Parse("127.0.20.11"));
        using var siblingClaim = await h.ClaimAsync(sibling, IPAddress.Parse("127.0.20.12"));
        using var fromSibling = h.App.CreateHttpsClient(IPAddress.Parse("127.0.20.12"));
        fromSibling.DefaultRequestHeaders.Add(ProvisionApi.SecretHeader, h.ReleaseSecret);

        await ShouldBeProblemAsync(await fromSibling.GetAsync($"/api/provision/assignment?hostname={victim.Hostname}"), HttpStatusCode.Conflict, "claimed");
        await ShouldBeProblemAsync(await GetWithCredentialAsync(fromSibling, victim.Hostname, siblingClaim.Credential), HttpStatusCode.Forbidden, "denied");
        (await fromSibling.PostAsJsonAsync("/api/provision/complete", new { hostname = victim.Hostname, status = "failed", message = "hijacked" }))
            .StatusCode.Should().Be(HttpStatusCode.BadRequest);
        await ShouldBeProblemAsync(await PostCompleteAsync(fromSibling, victim.Hostname, siblingClaim.Credential, "failed", "hijacked"), HttpStatusCode.Forbidden, "denied");

        (await h.InstanceAsync(victim.Id)).State.Should().Be(InstanceStates.Personalising);
        (await victimClaim.Client.PostAsJsonAsync("/api/provision/complete", new { hostname = victim.Hostname, status = "ok" })).StatusCode.Should().Be(HttpStatusCode.NoContent);
        (await h.InstanceAsync(victim.Id)).State.Should().Be(InstanceStates.Active);
    }

    /// <summary>
    /// The answer to the claiming fetch never reached the guest (an orchestrator restart, a power cut before the guest
    /// stored the credential): the claim is not confirmed, so the next fetch with the release secret claims it again
    /// with a new credential and the lost one stops working. Claims live in SQLite only, so a restart changes nothing here.
    /// </summary>
    [Fact]
    public async Task A_claim_whose_answer_was_lost_is_made_again_until_the_guest_uses_its_credential()
    {
        var guest = await H.DeployAsync(TemplateTypes.Frigate);
        using var client = await H.GuestClientAsync(guest);
        var lost = (await client.GetFromJsonAsync<JsonElement>($"/api/provision/assignment?hostname={guest.Hostname}")).GetProperty("instanceCredential").GetString()!;

        var retried = await client.GetFromJsonAsync<JsonElement>($"/api/provision/assignment?hostname={guest.Hostname}");

        var credential = retried.GetProperty("instanceCredential").GetString()!;
        credential.Should().MatchRegex("^[0-9a-f]{64}$").And.NotBe(lost);
        await ShouldBeProblemAsync(await GetWithCredentialAsync(client, guest.Hostname, lost), HttpStatusCode.Forbidden, "denied");
        (await GetWithCredentialAsync(client, guest.Hostname, credential)).StatusCode.Should().Be(HttpStatusCode.OK);
        await ShouldBeProblemAsync(await client.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}"), HttpStatusCode.Conflict, "claimed");
        (await PostCompleteAsync(client, guest.Hostname, credential, "ok")).StatusCode.Should().Be(HttpStatusCode.NoContent);
        (await H.HistoryAsync(guest.Id)).Should().Equal("waiting>personalising", "personalising>active");
    }

    /// <summary>
    /// The guest sends a credential of its own with the release secret (X-Ctrlable-Claim, what the script does since
    /// issue #22's fourth pass): the one fetch claims and confirms, so the release secret alone — or with any other
    /// credential — is refused at once, while the same credential again (a run that resumes) is served; only its hash is stored.
    /// </summary>
    [Fact]
    public async Task A_guest_s_own_credential_claims_and_confirms_in_one_fetch_and_serves_a_resumed_run()
    {
        var guest = await H.DeployAsync(TemplateTypes.Zigbee2Mqtt);
        var own = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        using var claiming = await H.GuestClientAsync(guest);
        claiming.DefaultRequestHeaders.Add(ProvisionApi.ClaimHeader, own);

        var response = await claiming.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}");

        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        var assignment = await response.Content.ReadFromJsonAsync<JsonElement>();
        assignment.TryGetProperty("instanceCredential", out _).Should().BeFalse("the guest holds its credential already");
        assignment.GetProperty("hostname").GetString().Should().Be(guest.Hostname);
        (await H.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Personalising);
        await using (var connection = await H.App.Service<Database>().OpenAsync())
        {
            var row = await connection.QuerySingleAsync<(string Hash, string? Confirmed)>(
                "SELECT credential_sha256, confirmed_at FROM firstboot_claims WHERE instance_id = @id;", new { id = guest.Id });
            row.Hash.Should().Be(FirstBootClaims.Hash(own));
            row.Confirmed.Should().NotBeNull("the fetch that claimed confirmed too");
        }

        using var secretAlone = await H.GuestClientAsync(guest);
        await ShouldBeProblemAsync(await secretAlone.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}"), HttpStatusCode.Conflict, "claimed");
        using var another = await H.GuestClientAsync(guest);
        another.DefaultRequestHeaders.Add(ProvisionApi.ClaimHeader, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)));
        await ShouldBeProblemAsync(await another.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}"), HttpStatusCode.Conflict, "claimed");

        var resumed = await claiming.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}");
        resumed.StatusCode.Should().Be(HttpStatusCode.OK, "a run cut short after the claim sends the same credential again");
        (await resumed.Content.ReadFromJsonAsync<JsonElement>()).GetRawText().Should().Be(assignment.GetRawText());
        (await GetWithCredentialAsync(secretAlone, guest.Hostname, own)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await PostCompleteAsync(secretAlone, guest.Hostname, own, "ok")).StatusCode.Should().Be(HttpStatusCode.NoContent);
        await ShouldBeProblemAsync(await claiming.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}"), HttpStatusCode.Gone, "consumed");
        (await H.HistoryAsync(guest.Id)).Should().Equal("waiting>personalising", "personalising>active");
        H.App.Logs.Lines.Should().NotContain(l => l.Contains(own, StringComparison.Ordinal));
    }

    /// <summary>An unconfirmed claim (the old two-step fetch, its answer lost) gives way to a guest's own credential.</summary>
    [Fact]
    public async Task A_guest_s_own_credential_replaces_an_unconfirmed_claim()
    {
        var guest = await H.DeployAsync(TemplateTypes.Frigate);
        using var client = await H.GuestClientAsync(guest);
        var lost = (await client.GetFromJsonAsync<JsonElement>($"/api/provision/assignment?hostname={guest.Hostname}")).GetProperty("instanceCredential").GetString()!;
        var own = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        using var claiming = await H.GuestClientAsync(guest);
        claiming.DefaultRequestHeaders.Add(ProvisionApi.ClaimHeader, own);

        (await claiming.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}")).StatusCode.Should().Be(HttpStatusCode.OK);

        await ShouldBeProblemAsync(await GetWithCredentialAsync(client, guest.Hostname, lost), HttpStatusCode.Forbidden, "denied");
        (await PostCompleteAsync(client, guest.Hostname, own, "ok")).StatusCode.Should().Be(HttpStatusCode.NoContent);
    }

    [Theory]
    [InlineData("abc", false)]
    [InlineData("ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789", false)]
    [InlineData("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true)]
    public async Task A_claim_is_the_guest_s_credential_as_64_hex_digits_and_goes_with_the_release_secret_only(string claim, bool withCredential)
    {
        var guest = await H.DeployAsync(TemplateTypes.ZwaveJs);
        using var client = await H.GuestClientAsync(guest, withSecret: !withCredential);
        client.DefaultRequestHeaders.Add(ProvisionApi.ClaimHeader, claim);
        if (withCredential)
        {
            client.DefaultRequestHeaders.Add(ProvisionApi.CredentialHeader, claim);
        }

        var response = await client.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}");

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        problem.GetProperty("errors").TryGetProperty("claim", out _).Should().BeTrue(problem.GetRawText());
        problem.GetRawText().Should().NotContain(claim);
        (await ClaimsOfAsync(H, guest.Id)).Should().Be(0);
        (await H.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Waiting);
    }

    /// <summary>The claiming answer without its credential, as the confirming fetch returns it.</summary>
    private static string WithoutCredential(JsonElement assignment)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(assignment.GetRawText())!.AsObject();
        node.Remove("instanceCredential");
        return node.ToJsonString();
    }

    private async Task AssertContentAsync(string type, TestGuest guest, JsonElement assignment)
    {
        var mqtt = await H.App.Service<ProjectMqttCredentials>().GetAsync(H.ProjectId, CancellationToken.None);
        switch (type)
        {
            case TemplateTypes.Zigbee2Mqtt:
                var zigbeeMqtt = assignment.GetProperty("mqtt");
                zigbeeMqtt.GetProperty("server").GetString().Should().Be($"mqtt://{FirstBootHarness.Slug}-ctrlable-pro:1883");
                zigbeeMqtt.GetProperty("user").GetString().Should().Be("ctrlable");
                zigbeeMqtt.GetProperty("password").GetString().Should().Be(mqtt!.Password).And.HaveLength(32);
                zigbeeMqtt.GetProperty("baseTopic").GetString().Should().Be(guest.Hostname);
                var zigbee = assignment.GetProperty("zigbee");
                zigbee.GetProperty("port").GetString().Should().Be("tcp://192.168.1.60:6638");
                zigbee.GetProperty("adapter").GetString().Should().Be("ember");
                zigbee.GetProperty("usb").GetBoolean().Should().BeFalse();
                zigbee.GetProperty("networkKey").EnumerateArray().Select(b => b.GetInt32()).Should().HaveCount(16).And.OnlyContain(b => b >= 0 && b <= 255);
                zigbee.GetProperty("panId").GetInt32().Should().BeInRange(1, 0xFFFE);
                zigbee.GetProperty("extPanId").EnumerateArray().Should().HaveCount(8);
                break;
            case TemplateTypes.ZwaveJs:
                var zwave = assignment.GetProperty("zwave");
                zwave.GetProperty("port").GetString().Should().Be("tcp://192.168.1.61:3333");
                zwave.GetProperty("serverPort").GetInt32().Should().Be(3000);
                zwave.GetProperty("securityKeys").EnumerateObject().Select(k => k.Name).Should().BeEquivalentTo(["S0_Legacy", "S2_Unauthenticated", "S2_Authenticated", "S2_AccessControl"]);
                zwave.GetProperty("securityKeysLongRange").EnumerateObject().Select(k => k.Name).Should().BeEquivalentTo(["S2_Authenticated", "S2_AccessControl"]);
                zwave.GetProperty("securityKeys").EnumerateObject().Concat(zwave.GetProperty("securityKeysLongRange").EnumerateObject())
                    .Select(k => k.Value.GetString()).Should().OnlyContain(k => k!.Length == 32 && k.All(char.IsAsciiHexDigitUpper)).And.OnlyHaveUniqueItems();
                break;
            case TemplateTypes.Frigate:
                assignment.GetProperty("mqtt").GetProperty("host").GetString().Should().Be($"{FirstBootHarness.Slug}-ctrlable-pro");
                assignment.GetProperty("mqtt").GetProperty("clientId").GetString().Should().Be(guest.Hostname);
                assignment.GetProperty("mqtt").GetProperty("password").GetString().Should().Be(mqtt!.Password);
                assignment.GetProperty("cameras").EnumerateArray().Select(c => c.GetProperty("name").GetString()).Should().Equal("front_door", "garage");
                assignment.GetProperty("cameras")[0].GetProperty("streamUrl").GetString().Should().Be(FirstBootHarness.Settings.Cameras[0].StreamUrl);
                break;
            case TemplateTypes.DockerPortainer:
                assignment.GetProperty("portainer").GetProperty("username").GetString().Should().Be("admin");
                assignment.GetProperty("portainer").GetProperty("password").GetString().Should().HaveLength(24);
                break;
            case TemplateTypes.FreePbx:
                assignment.GetProperty("freepbx").GetProperty("username").GetString().Should().Be("admin");
                assignment.GetProperty("freepbx").GetProperty("password").GetString().Should().HaveLength(24);
                break;
        }
    }

    [Fact]
    public async Task Every_instance_gets_fresh_secrets_and_the_site_shares_one_mqtt_user()
    {
        var first = await H.DeployAsync(TemplateTypes.Zigbee2Mqtt);
        var second = await H.DeployAsync(TemplateTypes.Zigbee2Mqtt);
        using var firstClient = await H.GuestClientAsync(first);
        using var secondClient = await H.GuestClientAsync(second);

        var a = await firstClient.GetFromJsonAsync<JsonElement>($"/api/provision/assignment?hostname={first.Hostname}");
        var b = await secondClient.GetFromJsonAsync<JsonElement>($"/api/provision/assignment?hostname={second.Hostname}");

        a.GetProperty("zigbee").GetProperty("networkKey").GetRawText().Should().NotBe(b.GetProperty("zigbee").GetProperty("networkKey").GetRawText());
        a.GetProperty("zigbee").GetProperty("extPanId").GetRawText().Should().NotBe(b.GetProperty("zigbee").GetProperty("extPanId").GetRawText());
        a.GetProperty("mqtt").GetProperty("password").GetString().Should().Be(b.GetProperty("mqtt").GetProperty("password").GetString());
        a.GetProperty("mqtt").GetProperty("baseTopic").GetString().Should().NotBe(b.GetProperty("mqtt").GetProperty("baseTopic").GetString());
    }

    [Fact]
    public async Task Unknown_host_names_and_wrong_secrets_get_the_same_answer()
    {
        var guest = await H.DeployAsync(TemplateTypes.ZwaveJs);
        using var client = await H.GuestClientAsync(guest, withSecret: false);

        var wrongSecret = await GetAsync(client, guest.Hostname, "0000" + H.ReleaseSecret[4..]);
        var unknownHost = await GetAsync(client, "acme-nothing-here", H.ReleaseSecret);
        var unknownHostWrongSecret = await GetAsync(client, "acme-nothing-here", "not-the-secret");
        var inQuery = await client.GetAsync($"/api/provision/assignment?hostname=acme-nothing-here&secret={H.ReleaseSecret}");

        foreach (var response in new[] { wrongSecret, unknownHost, unknownHostWrongSecret, inQuery })
        {
            var problem = await ShouldBeProblemAsync(response, HttpStatusCode.Forbidden, "denied");
            problem.GetProperty("title").GetString().Should().Be("Denied");
            problem.GetProperty("detail").GetString().Should().Be("Unknown host name or wrong first-boot secret.");
        }

        (await H.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Waiting, "a refused call changes nothing");
        var wrongComplete = await PostCompleteAsync(client, guest.Hostname, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)), "ok");
        await ShouldBeProblemAsync(wrongComplete, HttpStatusCode.Forbidden, "denied");
        await ShouldBeProblemAsync(await GetWithCredentialAsync(client, "acme-nothing-here", "0123"), HttpStatusCode.Forbidden, "denied");
        (await H.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Waiting);

        // The secret may also come in the query string (the header is preferred).
        (await client.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}&secret={H.ReleaseSecret}")).StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task An_instance_accepts_only_the_current_secret_of_the_release_it_was_cloned_from()
    {
        var secrets = H.App.Service<ReleaseSecrets>();
        var otherRelease = await secrets.IssueAsync("2026.07", CancellationToken.None);
        await using (var connection = await H.App.Service<Database>().OpenAsync())
        {
            await connection.ExecuteAsync("INSERT OR IGNORE INTO releases (name, community_scripts_ref, created_at) VALUES ('2026.05', '2026-04-30', @now);", new { now = DateTimeOffset.UtcNow });
        }

        var oldReleaseSecret = await secrets.IssueAsync("2026.05", CancellationToken.None);
        var current = await H.DeployAsync(TemplateTypes.Frigate);
        var fromOldRelease = await H.DeployAsync(TemplateTypes.Frigate, release: "2026.05");
        using var client = await H.GuestClientAsync(current, withSecret: false);
        using var oldClient = await H.GuestClientAsync(fromOldRelease, withSecret: false);

        await ShouldBeProblemAsync(await GetAsync(client, current.Hostname, otherRelease), HttpStatusCode.Forbidden, "denied");
        await ShouldBeProblemAsync(await GetAsync(client, current.Hostname, oldReleaseSecret), HttpStatusCode.Forbidden, "denied");
        await ShouldBeProblemAsync(await GetAsync(oldClient, fromOldRelease.Hostname, H.ReleaseSecret), HttpStatusCode.Forbidden, "denied");
        (await GetAsync(oldClient, fromOldRelease.Hostname, oldReleaseSecret)).StatusCode.Should().Be(HttpStatusCode.OK);

        // A new build of 2026.05 rotates its secret: the old one stops working.
        var rotated = await secrets.IssueAsync("2026.05", CancellationToken.None);
        await ShouldBeProblemAsync(await GetAsync(oldClient, fromOldRelease.Hostname, oldReleaseSecret), HttpStatusCode.Forbidden, "denied");
        (await GetAsync(oldClient, fromOldRelease.Hostname, rotated)).StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_call_from_an_address_that_is_not_the_guest_s_is_refused()
    {
        var guest = await H.DeployAsync(TemplateTypes.Zigbee2Mqtt);
        var sibling = await H.DeployAsync(TemplateTypes.ZwaveJs);
        await H.AddressOfAsync(guest);
        using var fromSibling = await H.GuestClientAsync(sibling);
        using var fromElsewhere = H.App.CreateHttpsClient(IPAddress.Parse("127.0.10.250"));
        fromElsewhere.DefaultRequestHeaders.Add(ProvisionApi.SecretHeader, H.ReleaseSecret);

        var problem = await ShouldBeProblemAsync(await fromSibling.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}"), HttpStatusCode.Forbidden, "address-mismatch");
        problem.GetProperty("detail").GetString().Should().Contain((await H.AddressOfAsync(sibling)).ToString());
        await ShouldBeProblemAsync(await fromElsewhere.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}"), HttpStatusCode.Forbidden, "address-mismatch");
        (await H.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Waiting);

        // The instance credential is bound to the guest's address too.
        using var claim = await H.ClaimAsync(guest);
        await ShouldBeProblemAsync(await GetWithCredentialAsync(fromElsewhere, guest.Hostname, claim.Credential), HttpStatusCode.Forbidden, "address-mismatch");
        await ShouldBeProblemAsync(await PostCompleteAsync(fromElsewhere, guest.Hostname, claim.Credential, "ok"), HttpStatusCode.Forbidden, "address-mismatch");
        (await H.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Personalising);
    }

    [Fact]
    public async Task Before_the_guest_waits_for_its_first_boot_the_answer_is_retry_later()
    {
        var guest = await H.DeployAsync(TemplateTypes.DockerPortainer, start: false);
        using var client = H.App.CreateHttpsClient(IPAddress.Parse("127.0.10.251"));
        client.DefaultRequestHeaders.Add(ProvisionApi.SecretHeader, H.ReleaseSecret);

        var response = await client.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}");

        await ShouldBeProblemAsync(response, HttpStatusCode.Conflict, "not-ready");
        response.Headers.RetryAfter!.Delta.Should().Be(TimeSpan.FromSeconds(5));
    }

    /// <summary>
    /// Proxmox cannot tell the guest's addresses (503 on every attempt of the orchestrator's client): the guest is told to
    /// come back (it retries by itself), the instance stays where it is and says why, and once Proxmox answers again the
    /// first boot goes on — for the fetch and for the report alike.
    /// </summary>
    [Fact]
    public async Task While_Proxmox_is_unavailable_the_guest_is_told_to_retry_and_the_instance_waits_saying_why()
    {
        var guest = await H.DeployAsync(TemplateTypes.Zigbee2Mqtt);
        using var client = await H.GuestClientAsync(guest);
        var unavailable = new FaultSettings { ServerErrorRate = 1, ServerErrorStatus = 503, ServerErrorMessage = "Service Unavailable", PathPattern = $"/lxc/{guest.Vmid}/interfaces$" };
        try
        {
            H.Pve.Sim.Faults.Settings = unavailable;
            var fetch = await client.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}");

            var problem = await ShouldBeProblemAsync(fetch, HttpStatusCode.ServiceUnavailable, "proxmox-unavailable");
            problem.GetProperty("detail").GetString().Should().Be("Proxmox could not tell the guest's addresses; try again shortly.");
            fetch.Headers.RetryAfter!.Delta.Should().Be(TimeSpan.FromSeconds(5));
            var waiting = await H.InstanceAsync(guest.Id);
            waiting.State.Should().Be(InstanceStates.Waiting);
            (await MessageAsync(guest.Id)).Should().Be("First boot: the guest called, but Proxmox answered 503 (Service Unavailable), so its address cannot be checked; the guest tries again");
            (await ClaimsOfAsync(H, guest.Id)).Should().Be(0, "nothing was handed out");

            H.Pve.Sim.Faults.Reset();
            using var claim = await H.ClaimAsync(guest);
            (await MessageAsync(guest.Id)).Should().Be("First boot: the guest fetched its assignment");

            // Once claimed, a call with the credential from the address the claim was checked at needs no Proxmox answer; from
            // another address it does.
            H.Pve.Sim.Faults.Settings = unavailable;
            using var moved = H.App.CreateHttpsClient(IPAddress.Parse("127.0.20.99"));
            var elsewhere = await PostCompleteAsync(moved, guest.Hostname, claim.Credential, "ok", "all wired");

            await ShouldBeProblemAsync(elsewhere, HttpStatusCode.ServiceUnavailable, "proxmox-unavailable");
            elsewhere.Headers.RetryAfter!.Delta.Should().Be(TimeSpan.FromSeconds(5));
            (await H.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Personalising, "the report is not taken without the address check");
            (await MessageAsync(guest.Id)).Should().Contain("Proxmox answered 503");

            (await PostCompleteAsync(claim.Client, guest.Hostname, claim.Credential, "ok", "all wired")).StatusCode.Should().Be(HttpStatusCode.NoContent);
            (await H.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Active);
            (await H.HistoryAsync(guest.Id)).Should().Equal("waiting>personalising", "personalising>active");
        }
        finally
        {
            H.Pve.Sim.Faults.Reset();
        }
    }

    /// <summary>The guest runs but Proxmox reports no address for it yet (no DHCP lease): come back later; the instance says so.</summary>
    [Fact]
    public async Task A_guest_without_an_address_yet_is_told_to_retry_and_gets_its_assignment_once_it_has_one()
    {
        var guest = await H.DeployAsync(TemplateTypes.ZwaveJs);
        using var client = await H.GuestClientAsync(guest);
        SetNetworkUp(guest.Vmid, false);
        try
        {
            var response = await client.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}");

            var problem = await ShouldBeProblemAsync(response, HttpStatusCode.Conflict, "not-ready");
            problem.GetProperty("detail").GetString().Should().Be("Proxmox reports no address for the guest yet; try again shortly.");
            response.Headers.RetryAfter!.Delta.Should().Be(TimeSpan.FromSeconds(5));
            (await H.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Waiting);
            (await MessageAsync(guest.Id)).Should().Be("First boot: the guest called, but Proxmox reports no address for it yet (is its network up?); the guest tries again");
            (await ClaimsOfAsync(H, guest.Id)).Should().Be(0);
        }
        finally
        {
            SetNetworkUp(guest.Vmid, true);
        }

        (await client.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await H.InstanceAsync(guest.Id)).State.Should().Be(InstanceStates.Personalising);
        (await MessageAsync(guest.Id)).Should().Be("First boot: the guest fetched its assignment");
    }

    /// <summary>
    /// The instance waits for its first boot but the orchestrator holds no assignment for it (deleted, or lost with the
    /// database): no retry brings one back, so the instance fails now with what to do, and the guest is told its first
    /// boot is over (410: the script stops instead of retrying until the deadline) — before or after its claim.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_instance_without_an_assignment_fails_with_what_to_do_and_the_guest_is_told_to_stop(bool claimedBefore)
    {
        var guest = await H.DeployAsync(TemplateTypes.Frigate);
        // Its first fetch claimed the assignment (the guest now calls with its credential), or it has not fetched yet.
        var claim = claimedBefore ? await H.ClaimAsync(guest) : null;
        using var caller = claim?.Client ?? await H.GuestClientAsync(guest);
        await H.App.Service<SecretStore>().DeleteAsync(SecretKind.InstanceAppSecret, AssignmentService.SecretName(guest.Id));
        var failed = H.App.Service<InstanceChanges>().WaitForAsync(guest.Id, [InstanceStates.Failed], CancellationToken.None);

        var response = await caller.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}");

        var problem = await ShouldBeProblemAsync(response, HttpStatusCode.Gone, "no-assignment");
        response.Headers.RetryAfter.Should().BeNull("nothing to wait for");
        var reason = $"The orchestrator holds no first-boot assignment for {guest.Hostname} (it was deleted or lost), so the guest cannot be configured. Delete the instance and deploy it again.";
        problem.GetProperty("detail").GetString().Should().Be(reason);
        (await failed.WaitAsync(TimeSpan.FromSeconds(10))).From.Should().Be(claimedBefore ? InstanceStates.Personalising : InstanceStates.Waiting);
        var instance = await H.InstanceAsync(guest.Id);
        instance.State.Should().Be(InstanceStates.Failed);
        instance.Error.Should().Be(reason);
        (await MessageAsync(guest.Id)).Should().Be("First boot failed: no assignment");
        (await ClaimsOfAsync(H, guest.Id)).Should().Be(claimedBefore ? 1 : 0, "no credential is handed out without an assignment");
        await ShouldBeProblemAsync(await caller.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}"), HttpStatusCode.Gone, "consumed");
    }

    private async Task<string?> MessageAsync(long id)
    {
        await using var connection = await H.App.Service<Database>().OpenAsync();
        return await connection.ExecuteScalarAsync<string?>("SELECT message FROM instances WHERE id = @id;", new { id });
    }

    /// <summary>The emulated guest's network: down, Proxmox reports no address for it (no DHCP lease yet); up, its address again.</summary>
    private void SetNetworkUp(int vmid, bool up)
    {
        lock (H.Pve.Sim.State.Sync)
        {
            H.Pve.Sim.State.Guest(vmid)!.NetworkUp = up;
        }
    }

    [Fact]
    public async Task A_failed_first_boot_is_recorded_with_the_guest_s_message()
    {
        var guest = await H.DeployAsync(TemplateTypes.FreePbx);
        using var claim = await H.ClaimAsync(guest);
        var client = claim.Client;
        var waiter = H.App.Service<InstanceChanges>().WaitForAsync(guest.Id, [InstanceStates.Active, InstanceStates.Failed], CancellationToken.None);

        var response = await PostCompleteAsync(client, guest.Hostname, claim.Credential, "failed", "configure: setting the FreePBX administrator failed (status 1): ERROR 2002");

        response.StatusCode.Should().Be(HttpStatusCode.NoContent);
        var change = await waiter.WaitAsync(TimeSpan.FromSeconds(10));
        change.To.Should().Be(InstanceStates.Failed);
        change.From.Should().Be(InstanceStates.Personalising);
        var failed = await H.InstanceAsync(guest.Id);
        failed.State.Should().Be(InstanceStates.Failed);
        failed.Error.Should().Be("configure: setting the FreePBX administrator failed (status 1): ERROR 2002");
        failed.FirstbootMessage.Should().Be(failed.Error);
        (await H.HistoryAsync(guest.Id)).Should().Equal("waiting>personalising", "personalising>failed");
        await ShouldBeProblemAsync(await client.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}"), HttpStatusCode.Gone, "consumed");
    }

    [Fact]
    public async Task Requests_without_host_name_or_secret_are_refused_as_invalid()
    {
        using var client = H.App.CreateHttpsClient(IPAddress.Parse("127.0.10.252"));

        var noSecret = await client.GetAsync("/api/provision/assignment?hostname=acme-zwavejs");
        var badHostname = await GetAsync(client, "acme zwavejs;rm", H.ReleaseSecret);
        var badStatus = await client.PostAsJsonAsync("/api/provision/complete", new { hostname = "acme-zwavejs", status = "maybe" });
        var noCredential = await client.PostAsJsonAsync("/api/provision/complete", new { hostname = "acme-zwavejs", secret = H.ReleaseSecret, status = "ok" });

        noSecret.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await noSecret.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("secret", out _).Should().BeTrue();
        badHostname.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        badStatus.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        noCredential.StatusCode.Should().Be(HttpStatusCode.BadRequest, "the release secret does not complete a first boot");
        (await noCredential.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("instanceCredential", out _).Should().BeTrue();
    }

    [Fact]
    public async Task A_complete_report_is_refused_with_every_field_error_at_once()
    {
        using var client = H.App.CreateHttpsClient(IPAddress.Parse("127.0.10.249"));
        var versions = Enumerable.Range(0, 40).ToDictionary(i => $"app{i}", _ => "1.0");

        var refused = await client.PostAsJsonAsync("/api/provision/complete", new { hostname = "not a label", status = "ok", versions });

        refused.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").EnumerateObject().Select(e => e.Name)
            .Should().Equal("hostname", "instanceCredential", "versions");
    }

    [Fact]
    public async Task A_usb_coordinator_flags_the_instance_as_needing_a_binding()
    {
        var settings = FirstBootHarness.Settings with { Zigbee = new CoordinatorSettings { Mode = CoordinatorMode.Usb, UsbDevice = "/dev/serial/by-id/usb-ITead_Sonoff_Zigbee_3.0-if00" } };

        var guest = await H.DeployAsync(TemplateTypes.Zigbee2Mqtt, settings);

        guest.Summary.NeedsBinding.Should().BeTrue();
        guest.Summary.Warnings.Should().ContainSingle().Which.Should().Contain("USB").And.Contain("needs binding");
        (await H.InstanceAsync(guest.Id)).NeedsBinding.Should().BeTrue();
        using var client = await H.GuestClientAsync(guest);
        var zigbee = (await client.GetFromJsonAsync<JsonElement>($"/api/provision/assignment?hostname={guest.Hostname}")).GetProperty("zigbee");
        zigbee.GetProperty("usb").GetBoolean().Should().BeTrue();
        zigbee.GetProperty("port").GetString().Should().Be("/dev/serial/by-id/usb-ITead_Sonoff_Zigbee_3.0-if00");
    }

    [Fact]
    public async Task Creating_an_assignment_again_keeps_it_and_deleting_removes_it()
    {
        var guest = await H.DeployAsync(TemplateTypes.ZwaveJs);
        var service = H.App.Service<AssignmentService>();
        var stored = await StoredAsync(guest.Id);

        var again = await service.CreateAsync(guest.Id, guest.Type, guest.Hostname, FirstBootHarness.Release, H.ProjectId, FirstBootHarness.Settings, brokerHost: null, CancellationToken.None);

        again.Should().BeEquivalentTo(guest.Summary);
        (await StoredAsync(guest.Id)).Should().Be(stored, "a resumed deploy keeps the secrets it generated");
        using (await H.ClaimAsync(guest))
        {
            (await ClaimsOfAsync(H, guest.Id)).Should().Be(1);
        }

        await service.DeleteAsync(guest.Id, CancellationToken.None);
        (await H.App.Service<SecretStore>().ListAsync(SecretKind.InstanceAppSecret, $"instance/{guest.Id}/")).Should().BeEmpty();
        (await ClaimsOfAsync(H, guest.Id)).Should().Be(0, "the claim goes with the assignment");
    }

    /// <summary>The guest that claimed the first boot is gone; the retry clones a new one, which holds no credential.</summary>
    [Fact]
    public async Task A_retry_that_clones_the_guest_again_forgets_the_old_guest_s_claim()
    {
        await using var h = await FirstBootHarness.StartAsync();
        var guest = await h.DeployAsync(TemplateTypes.ZwaveJs);
        using (await h.ClaimAsync(guest))
        {
            (await ClaimsOfAsync(h, guest.Id)).Should().Be(1);
        }

        // Destroyed outside the orchestrator before its first boot finished; the deadline failed the instance.
        var ct = CancellationToken.None;
        (await h.Pve.Tasks.WaitAsync(FirstBootHarness.Node, await h.Pve.Client.StopAsync(FirstBootHarness.Node, Provisioner.Proxmox.GuestKind.Lxc, guest.Vmid, ct), TimeSpan.FromSeconds(30), ct)).Succeeded.Should().BeTrue();
        (await h.Pve.Tasks.WaitAsync(FirstBootHarness.Node, await h.Pve.Client.DeleteAsync(FirstBootHarness.Node, Provisioner.Proxmox.GuestKind.Lxc, guest.Vmid, ct), TimeSpan.FromSeconds(30), ct)).Succeeded.Should().BeTrue();
        await h.SetStateAsync(guest.Id, InstanceStates.Failed);

        var (_, refusal) = await h.App.Service<Provisioner.Deploy.DeployService>().RetryAsync(guest.Id, ct);

        refusal.Should().BeNull();
        (await ClaimsOfAsync(h, guest.Id)).Should().Be(0);
    }

    private static async Task<long> ClaimsOfAsync(FirstBootHarness harness, long instanceId)
    {
        await using var connection = await harness.App.Service<Database>().OpenAsync();
        return await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM firstboot_claims WHERE instance_id = @instanceId;", new { instanceId });
    }

    [Fact]
    public async Task Missing_site_settings_and_an_external_broker_without_password_are_warnings()
    {
        var settings = new SiteSettings { Mqtt = new MqttSettings { Host = "broker.site.lan", Port = 8883, Username = "z2m", Tls = true } };

        var guest = await H.DeployAsync(TemplateTypes.Zigbee2Mqtt, settings);

        guest.Summary.NeedsBinding.Should().BeFalse();
        guest.Summary.Warnings.Should().HaveCount(2);
        guest.Summary.Warnings.Should().Contain(w => w.Contains("Zigbee coordinator's address is missing", StringComparison.Ordinal));
        guest.Summary.Warnings.Should().Contain(w => w.Contains("broker.site.lan", StringComparison.Ordinal) && w.Contains("no password", StringComparison.Ordinal));
        using var client = await H.GuestClientAsync(guest);
        var assignment = await client.GetFromJsonAsync<JsonElement>($"/api/provision/assignment?hostname={guest.Hostname}");
        assignment.GetProperty("mqtt").GetProperty("server").GetString().Should().Be("mqtts://broker.site.lan:8883");
        assignment.GetProperty("mqtt").GetProperty("user").GetString().Should().Be("z2m");
        assignment.GetProperty("zigbee").GetProperty("port").ValueKind.Should().Be(JsonValueKind.Null);
    }

    [Fact]
    public async Task The_address_binding_can_be_switched_off_and_the_calls_are_rate_limited_per_address()
    {
        await using var harness = await FirstBootHarness.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Provision:RequireGuestAddress"] = "false",
            ["Provision:PermitLimit"] = "3",
        });
        var guest = await harness.DeployAsync(TemplateTypes.Zigbee2Mqtt, start: false);
        await harness.SetStateAsync(guest.Id, InstanceStates.Waiting);
        using var behindNat = harness.App.CreateHttpsClient(IPAddress.Parse("127.0.20.1"));
        behindNat.DefaultRequestHeaders.Add(ProvisionApi.SecretHeader, harness.ReleaseSecret);
        using var another = harness.App.CreateHttpsClient(IPAddress.Parse("127.0.20.2"));
        another.DefaultRequestHeaders.Add(ProvisionApi.SecretHeader, harness.ReleaseSecret);

        (await behindNat.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}")).StatusCode.Should().Be(HttpStatusCode.OK, "the guest is not even running, but the address is not checked");
        (await behindNat.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await behindNat.GetAsync("/api/provision/assignment?hostname=acme-unknown")).StatusCode.Should().Be(HttpStatusCode.Forbidden);
        var limited = await behindNat.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}");

        limited.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        limited.Headers.RetryAfter.Should().NotBeNull();
        (await another.GetAsync($"/api/provision/assignment?hostname={guest.Hostname}")).StatusCode.Should().Be(HttpStatusCode.OK, "the limit is per address");
    }

    /// <summary>
    /// Its own orchestrator, every log level captured, guests sending the secret in the header as the script does.
    /// (A secret sent in the query string shows up in ASP.NET Core's request log at Information level: SPEC says so.)
    /// </summary>
    [Fact]
    public async Task No_secret_reaches_a_log_line_the_audit_log_or_a_read_endpoint()
    {
        await using var h = await FirstBootHarness.StartAsync();
        var secrets = new List<string> { h.ReleaseSecret, FirstBootHarness.Settings.Cameras[0].StreamUrl };
        foreach (var type in FirstBootHarness.Types)
        {
            var guest = await h.DeployAsync(type);
            // A claim whose answer was lost, then the one the guest keeps: both credentials are secrets.
            using (var withSecret = await h.GuestClientAsync(guest))
            {
                secrets.Add((await withSecret.GetFromJsonAsync<JsonElement>($"/api/provision/assignment?hostname={guest.Hostname}")).GetProperty("instanceCredential").GetString()!);
            }

            using var claim = await h.ClaimAsync(guest);
            secrets.Add(claim.Credential);
            secrets.AddRange(SecretValues(claim.Assignment));
            (await claim.Client.PostAsJsonAsync("/api/provision/complete", new { hostname = guest.Hostname, status = "ok" })).EnsureSuccessStatusCode();
        }

        secrets.Should().HaveCountGreaterThan(22);
        using var admin = h.App.CreateHttpsClient();
        admin.DefaultRequestHeaders.Authorization = new("Bearer", await h.App.CreateTokenAsync(Provisioner.Auth.Role.Admin));
        var readable = new List<string>
        {
            await admin.GetStringAsync("/api/audit?pageSize=200"),
            await admin.GetStringAsync("/api/dashboard"),
        };
        await using (var connection = await h.App.Service<Database>().OpenAsync())
        {
            readable.AddRange(await connection.QueryAsync<string>("SELECT coalesce(target, '') || ' ' || coalesce(actor_name, '') FROM audit_log;"));
            readable.AddRange(await connection.QueryAsync<string>("SELECT coalesce(message, '') || ' ' || coalesce(source, '') FROM instance_state_changes;"));
            readable.AddRange(await connection.QueryAsync<string>("SELECT protected_value FROM secrets;"));
            readable.AddRange(await connection.QueryAsync<string>("SELECT credential_sha256 || ' ' || coalesce(claimed_from, '') FROM firstboot_claims;"));
        }

        readable.Should().Contain(r => r.Contains("/api/provision/complete", StringComparison.Ordinal), "the completes are audited");
        foreach (var secret in secrets.Distinct())
        {
            h.App.Logs.Lines.Should().NotContain(l => l.Contains(secret, StringComparison.Ordinal), "no log line may hold a secret");
            readable.Should().NotContain(r => r.Contains(secret, StringComparison.Ordinal));
        }
    }

    /// <summary>Every password, key and camera URL in an assignment (the MQTT user name and ports are not secret).</summary>
    private static IEnumerable<string> SecretValues(JsonElement assignment)
    {
        if (assignment.TryGetProperty("mqtt", out var mqtt) && mqtt.ValueKind == JsonValueKind.Object && mqtt.GetProperty("password").GetString() is { } password)
        {
            yield return password;
        }

        if (assignment.TryGetProperty("zigbee", out var zigbee) && zigbee.ValueKind == JsonValueKind.Object)
        {
            yield return string.Join(", ", zigbee.GetProperty("networkKey").EnumerateArray().Select(b => b.GetInt32()));
            yield return zigbee.GetProperty("networkKey").GetRawText();
        }

        if (assignment.TryGetProperty("zwave", out var zwave) && zwave.ValueKind == JsonValueKind.Object)
        {
            foreach (var key in zwave.GetProperty("securityKeys").EnumerateObject().Concat(zwave.GetProperty("securityKeysLongRange").EnumerateObject()))
            {
                yield return key.Value.GetString()!;
            }
        }

        foreach (var name in new[] { "portainer", "freepbx" })
        {
            if (assignment.TryGetProperty(name, out var admin) && admin.ValueKind == JsonValueKind.Object)
            {
                yield return admin.GetProperty("password").GetString()!;
            }
        }
    }

    private async Task<string> StoredAsync(long id)
    {
        await using var connection = await H.App.Service<Database>().OpenAsync();
        var stored = await connection.QuerySingleAsync<string>("SELECT protected_value FROM secrets WHERE kind = 'InstanceAppSecret' AND name = @name;", new { name = AssignmentService.SecretName(id) });
        return H.App.Services.GetRequiredService<SecretProtector>().Unprotect(SecretKind.InstanceAppSecret, stored);
    }

    private static async Task<HttpResponseMessage> GetAsync(HttpClient client, string hostname, string secret)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/provision/assignment?hostname={Uri.EscapeDataString(hostname)}");
        request.Headers.Add(ProvisionApi.SecretHeader, secret);
        return await client.SendAsync(request);
    }

    private static async Task<HttpResponseMessage> GetWithCredentialAsync(HttpClient client, string hostname, string credential)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/provision/assignment?hostname={Uri.EscapeDataString(hostname)}");
        request.Headers.Add(ProvisionApi.CredentialHeader, credential);
        return await client.SendAsync(request);
    }

    private static async Task<HttpResponseMessage> PostCompleteAsync(HttpClient client, string hostname, string credential, string status, string? message = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/provision/complete") { Content = JsonContent.Create(new { hostname, status, message }) };
        if (!client.DefaultRequestHeaders.Contains(ProvisionApi.CredentialHeader))
        {
            request.Headers.Add(ProvisionApi.CredentialHeader, credential);
        }

        return await client.SendAsync(request);
    }

    private static async Task<JsonElement> ShouldBeProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var body = await response.Content.ReadAsStringAsync();
        response.StatusCode.Should().Be(status, body);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        var problem = JsonSerializer.Deserialize<JsonElement>(body);
        problem.GetProperty("code").GetString().Should().Be(code, body);
        return problem;
    }
}
