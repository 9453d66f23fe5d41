using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.HaSim;
using Ctrlable.HaSim.State;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Deploy;
using Ctrlable.Provisioner.Handover;
using Ctrlable.Provisioner.HomeAssistant;
using Ctrlable.Provisioner.HomeAssistant.Setup;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.Secrets;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Deploy;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Handover;

/// <summary>
/// A project's credentials hand-over against a site deployed as the pipeline leaves it: its Home Assistant (the emulator)
/// restored, secured and wired by the real flow, and guests with their first-boot assignments. The tests of this class
/// share the site and run one after another.
/// </summary>
public sealed class CredentialsApiTests(HandoverSite site) : IClassFixture<HandoverSite>
{
    private const string CameraPassword = "cam-Secret-4711";

    [Fact]
    public async Task Viewers_and_operators_are_refused_every_credentials_call_with_a_problem()
    {
        foreach (var role in new[] { Role.Viewer, Role.Operator })
        {
            foreach (var via in new[] { Via.Token, Via.Cookie })
            {
                using var client = await site.App.CreateClientAsync(role, via);
                foreach (var response in new[]
                {
                    await client.GetAsync($"/api/projects/{site.ProjectId}/credentials"),
                    await client.PostAsJsonAsync($"/api/projects/{site.ProjectId}/credentials/{site.OwnerId}/reveal", new { password = ProvisionerApp.UserPassword }),
                    await client.PostAsJsonAsync($"/api/projects/{site.ProjectId}/credentials/reveal", new { password = ProvisionerApp.UserPassword, credentialIds = new[] { site.OwnerId } }),
                    await client.PostAsync($"/api/projects/{site.ProjectId}/credentials/{site.OwnerId}/rotate", null),
                })
                {
                    response.StatusCode.Should().Be(HttpStatusCode.Forbidden, $"{role} via {via}");
                    response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
                }
            }
        }
    }

    [Fact]
    public async Task The_list_names_every_secret_of_the_site_with_where_it_is_used_and_never_a_value()
    {
        using var admin = await site.App.CreateClientAsync(Role.Admin);

        var response = await admin.GetAsync($"/api/projects/{site.ProjectId}/credentials");

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var text = await response.Content.ReadAsStringAsync();
        var list = JsonDocument.Parse(text).RootElement;
        var credentials = list.GetProperty("credentials").EnumerateArray().ToDictionary(c => c.GetProperty("id").GetString()!);
        credentials.Keys.Should().BeEquivalentTo(
        [
            site.OwnerId, $"i{site.HomeAssistantId}.homeassistant-orchestrator", site.TokenId,
            $"i{site.Guests[TemplateTypes.Zigbee2Mqtt]}.zigbee-network-key",
            .. new[] { "s0-legacy", "s2-unauthenticated", "s2-authenticated", "s2-accesscontrol", "lr-s2-authenticated", "lr-s2-accesscontrol" }
                .Select(k => $"i{site.Guests[TemplateTypes.ZwaveJs]}.zwave-{k}"),
            $"i{site.Guests[TemplateTypes.DockerPortainer]}.portainer-admin", $"i{site.Guests[TemplateTypes.FreePbx]}.freepbx-admin",
            "site.mqtt", "site.camera.front-door",
        ]);
        var owner = credentials[site.OwnerId];
        owner.GetProperty("username").GetString().Should().Be(TestBaseBackup.AdminUser);
        owner.GetProperty("hostname").GetString().Should().Be("site-ctrlable-pro");
        owner.GetProperty("url").GetString().Should().Be(site.Ha.BaseAddress.ToString());
        owner.GetProperty("rotatable").GetBoolean().Should().BeTrue();
        owner.GetProperty("kind").GetString().Should().Be("home-assistant-owner");
        credentials["site.mqtt"].GetProperty("username").GetString().Should().Be(ProjectMqttCredentials.DefaultUsername);
        credentials["site.mqtt"].GetProperty("usedBy").GetString().Should().Contain("Mosquitto").And.Contain("site-zigbee2mqtt").And.Contain("site-frigate");
        credentials["site.camera.front-door"].GetProperty("username").GetString().Should().Be("viewer");
        credentials["site.camera.front-door"].GetProperty("url").GetString().Should().Be("rtsp://viewer:***@192.168.1.60:554/stream1");
        credentials[$"i{site.Guests[TemplateTypes.DockerPortainer]}.portainer-admin"].GetProperty("username").GetString().Should().Be("admin");
        list.GetProperty("instances").EnumerateArray().Should().Contain(i => i.GetProperty("type").GetString() == TemplateTypes.ZwaveJs
            && i.GetProperty("app").GetString() == "Z-Wave JS UI" && i.GetProperty("url").GetString()!.StartsWith("http://127.0.0.1:", StringComparison.Ordinal));

        // The values themselves: none of them is in the answer.
        var values = await site.AllValuesAsync();
        values.Should().HaveCountGreaterThan(10);
        text.Should().NotContainAny(values);
        (await admin.GetAsync("/api/projects/999999/credentials")).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_reveal_needs_the_admin_s_current_password_and_is_audited_without_the_value()
    {
        var name = await site.App.CreateUserAsync(Role.Admin);
        using var admin = await site.App.SignInAsync(name, ProvisionerApp.UserPassword);
        var url = $"/api/projects/{site.ProjectId}/credentials/{site.OwnerId}/reveal";

        var wrong = await admin.PostAsJsonAsync(url, new { password = "not-my-Passw0rd-at-all" });
        wrong.StatusCode.Should().Be(HttpStatusCode.Forbidden);
        wrong.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        (await wrong.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString().Should().Be("wrong-password");
        (await admin.PostAsJsonAsync(url, new { })).StatusCode.Should().Be(HttpStatusCode.BadRequest);

        var right = await admin.PostAsJsonAsync(url, new { password = ProvisionerApp.UserPassword });
        right.StatusCode.Should().Be(HttpStatusCode.OK);
        var value = (await right.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("value").GetString()!;
        site.Ha.State.PasswordMatches(TestBaseBackup.AdminUser, value).Should().BeTrue("the revealed value is the owner's password in Home Assistant");

        var batch = await admin.PostAsJsonAsync($"/api/projects/{site.ProjectId}/credentials/reveal",
            new { password = ProvisionerApp.UserPassword, credentialIds = new[] { "site.camera.front-door", "site.mqtt" } });
        batch.StatusCode.Should().Be(HttpStatusCode.OK);
        var revealed = (await batch.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("credentials").EnumerateArray()
            .ToDictionary(c => c.GetProperty("id").GetString()!, c => c.GetProperty("value").GetString()!);
        revealed["site.camera.front-door"].Should().Be(CameraPassword);
        revealed["site.mqtt"].Should().Be((await site.App.Service<ProjectMqttCredentials>().GetAsync(site.ProjectId, CancellationToken.None))!.Password);
        (await admin.PostAsJsonAsync($"/api/projects/{site.ProjectId}/credentials/reveal", new { password = ProvisionerApp.UserPassword, credentialIds = new[] { "site.mqtt", "i1.nothing" } }))
            .StatusCode.Should().Be(HttpStatusCode.NotFound);

        // An API token has no password to re-enter: it cannot reveal.
        using var token = await site.App.CreateClientAsync(Role.Admin);
        var byToken = await token.PostAsJsonAsync(url, new { password = ProvisionerApp.AdminPassword });
        byToken.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await byToken.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString().Should().Be("user-required");

        // The audit log: who, which secret, when, the outcome; never a value.
        var audit = await token.GetFromJsonAsync<JsonElement>("/api/audit?pageSize=200");
        var entries = audit.GetProperty("items").EnumerateArray().Where(e => e.GetProperty("actorName").GetString() == name).ToList();
        entries.Should().Contain(e => e.GetProperty("statusCode").GetInt32() == 403 && e.GetProperty("target").GetString()!.Contains(site.OwnerId, StringComparison.Ordinal)
            && e.GetProperty("target").GetString()!.Contains("wrong password", StringComparison.Ordinal));
        entries.Should().Contain(e => e.GetProperty("statusCode").GetInt32() == 200 && e.GetProperty("route").GetString() == "/api/projects/{id:long}/credentials/{credentialId}/reveal"
            && e.GetProperty("target").GetString()!.Contains($"revealed {site.OwnerId} (Home Assistant owner password of site-ctrlable-pro)", StringComparison.Ordinal));
        entries.Should().Contain(e => e.GetProperty("statusCode").GetInt32() == 200
            && e.GetProperty("target").GetString()!.Contains("site.camera.front-door", StringComparison.Ordinal) && e.GetProperty("target").GetString()!.Contains("site.mqtt", StringComparison.Ordinal));
        var values = await site.AllValuesAsync();
        audit.GetRawText().Should().NotContainAny(values);
        site.App.Logs.Lines.Should().NotContain(line => values.Any(v => line.Contains(v, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Rotating_the_owner_password_changes_it_in_home_assistant_first_and_the_old_one_stops_working()
    {
        using var admin = await site.App.CreateClientAsync(Role.Admin);
        var before = await site.ValueAsync(site.OwnerId);
        var listedBefore = await site.ListedAsync(site.OwnerId);

        var response = await admin.PostAsync($"/api/projects/{site.ProjectId}/credentials/{site.OwnerId}/rotate", null);

        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        var after = await site.ValueAsync(site.OwnerId);
        after.Should().NotBe(before);
        site.Ha.State.PasswordMatches(TestBaseBackup.AdminUser, after).Should().BeTrue();
        site.Ha.State.PasswordMatches(TestBaseBackup.AdminUser, before).Should().BeFalse("the old password stops working");
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("updatedAt").GetDateTimeOffset()
            .Should().BeAfter(listedBefore.GetProperty("updatedAt").GetDateTimeOffset());
        (await site.PendingAsync(HomeAssistantSetup.AdminSecretName(site.HomeAssistantId))).Should().BeNull();
        site.Ha.State.RefreshTokens.Where(t => t.TokenType != HaRefreshToken.System).Should().ContainSingle("the rotation's sign-in session is removed again");
        site.App.Logs.Lines.Should().NotContain(line => line.Contains(after, StringComparison.Ordinal) || line.Contains(before, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_rotation_home_assistant_does_not_take_leaves_the_old_value_in_place_and_says_so()
    {
        using var admin = await site.App.CreateClientAsync(Role.Admin);
        var id = $"i{site.HomeAssistantId}.homeassistant-orchestrator";
        var before = await site.ValueAsync(id);
        await site.Ha.PowerOffAsync();
        HttpResponseMessage response;
        try
        {
            response = await admin.PostAsync($"/api/projects/{site.ProjectId}/credentials/{id}/rotate", null);
        }
        finally
        {
            site.Ha.PowerOn();
        }

        response.StatusCode.Should().Be(HttpStatusCode.BadGateway);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        problem.GetProperty("code").GetString().Should().Be("rotation-failed");
        problem.GetProperty("detail").GetString().Should().Contain("old password stays in place");
        (await site.ValueAsync(id)).Should().Be(before);
        (await site.PendingAsync(HomeAssistantSetup.OrchestratorSecretName(site.HomeAssistantId))).Should().BeNull();
        await site.Ha.WaitForPhaseAsync(HaPhase.Running);
        site.Ha.State.PasswordMatches(HomeAssistantSetup.OrchestratorUsername, before).Should().BeTrue("Home Assistant still takes the old password");

        // Home Assistant back: the same rotation goes through.
        var retried = await admin.PostAsync($"/api/projects/{site.ProjectId}/credentials/{id}/rotate", null);
        retried.StatusCode.Should().Be(HttpStatusCode.OK, await retried.Content.ReadAsStringAsync());
        site.Ha.State.PasswordMatches(HomeAssistantSetup.OrchestratorUsername, await site.ValueAsync(id)).Should().BeTrue();
        site.Ha.State.PasswordMatches(HomeAssistantSetup.OrchestratorUsername, before).Should().BeFalse();
    }

    [Fact]
    public async Task A_rotation_cut_short_after_home_assistant_took_the_new_password_is_finished_by_the_next_one()
    {
        using var admin = await site.App.CreateClientAsync(Role.Admin);
        var secret = HomeAssistantSetup.AdminSecretName(site.HomeAssistantId);
        // As if the orchestrator stopped between Home Assistant's change and storing it: the pending value is the live one.
        var interrupted = "interrupted-Rotation-0001";
        await site.App.Service<SecretStore>().SetAsync(SecretKind.HomeAssistantCredential, CredentialRotation.PendingName(secret), interrupted);
        site.Ha.Edit(config => config.Passwords[TestBaseBackup.AdminUser] = HaConfig.HashPassword(interrupted, site.Ha.Options.BcryptWorkFactor));

        var response = await admin.PostAsync($"/api/projects/{site.ProjectId}/credentials/{site.OwnerId}/rotate", null);

        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        var now = await site.ValueAsync(site.OwnerId);
        now.Should().NotBe(interrupted);
        site.Ha.State.PasswordMatches(TestBaseBackup.AdminUser, now).Should().BeTrue();
        (await site.PendingAsync(secret)).Should().BeNull();
    }

    [Fact]
    public async Task Rotating_the_long_lived_token_replaces_it_and_the_old_token_stops_working()
    {
        using var admin = await site.App.CreateClientAsync(Role.Admin);
        var before = await site.ValueAsync(site.TokenId);

        var response = await admin.PostAsync($"/api/projects/{site.ProjectId}/credentials/{site.TokenId}/rotate", null);

        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        var after = await site.ValueAsync(site.TokenId);
        after.Should().NotBe(before);
        await using (await HomeAssistantSocket.ConnectAsync(site.Ha.BaseAddress, after, TimeSpan.FromSeconds(10), CancellationToken.None))
        {
            // the new token opens Home Assistant's API
        }

        var old = await FluentActions.Awaiting(() => HomeAssistantSocket.ConnectAsync(site.Ha.BaseAddress, before, TimeSpan.FromSeconds(10), CancellationToken.None))
            .Should().ThrowAsync<HomeAssistantException>();
        old.Which.Code.Should().Be("auth_invalid");
        (await site.App.Service<HomeAssistantCredentials>().TokenAsync(site.HomeAssistantId, CancellationToken.None)).Should().Be(after, "the wiring uses the new token");
    }

    [Fact]
    public async Task Keys_and_guest_passwords_say_why_they_cannot_be_rotated_and_rotating_one_is_refused()
    {
        using var admin = await site.App.CreateClientAsync(Role.Admin);
        var zigbee = $"i{site.Guests[TemplateTypes.Zigbee2Mqtt]}.zigbee-network-key";
        var before = await site.ValueAsync(zigbee);
        foreach (var id in new[] { zigbee, $"i{site.Guests[TemplateTypes.DockerPortainer]}.portainer-admin", "site.mqtt", "site.camera.front-door" })
        {
            var listed = await site.ListedAsync(id);
            listed.GetProperty("rotatable").GetBoolean().Should().BeFalse(id);
            listed.GetProperty("notRotatableReason").GetString().Should().NotBeNullOrWhiteSpace(id);
        }

        (await site.ListedAsync(zigbee)).GetProperty("notRotatableReason").GetString().Should().Contain("pairing every device again");
        var response = await admin.PostAsync($"/api/projects/{site.ProjectId}/credentials/{zigbee}/rotate", null);

        response.StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString().Should().Be("not-rotatable");
        (await site.ValueAsync(zigbee)).Should().Be(before);
        (await admin.PostAsync($"/api/projects/{site.ProjectId}/credentials/i1.nothing/rotate", null)).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Reveals_are_rate_limited_like_sign_in()
    {
        var settings = DeployApiTests.FastDemo();
        // Reveals share sign-in's budget per client address: the admin's own sign-in is the first of these four.
        settings["Auth:SignInPermitLimit"] = "4";
        using var app = new ProvisionerApp(settings: settings);
        using var admin = await app.CreateClientAsync(Role.Admin, Via.Cookie);

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            statuses.Add((await admin.PostAsJsonAsync("/api/projects/1/credentials/site.mqtt/reveal", new { password = "wrong-Passw0rd-guess" })).StatusCode);
        }

        statuses.Should().Equal(HttpStatusCode.Forbidden, HttpStatusCode.Forbidden, HttpStatusCode.Forbidden, HttpStatusCode.TooManyRequests);
    }

    [Fact]
    public async Task A_reveal_tells_an_api_token_it_cannot_reveal_before_anything_about_its_body_and_a_person_every_field_error()
    {
        using var app = new ProvisionerApp(settings: DeployApiTests.FastDemo());
        using var token = await app.CreateClientAsync(Role.Admin);
        using var admin = await app.CreateClientAsync(Role.Admin, Via.Cookie);

        // Who asks comes first: a token never reveals, so what its body lacks is beside the point.
        var byToken = await ProblemAsync(await token.PostAsJsonAsync("/api/projects/1/credentials/reveal", new { }));
        byToken.GetProperty("code").GetString().Should().Be("user-required");

        var noIds = await ProblemAsync(await admin.PostAsJsonAsync("/api/projects/1/credentials/reveal", new { credentialIds = Array.Empty<string>() }));
        noIds.GetProperty("title").GetString().Should().Be("Choose the credentials");
        noIds.GetProperty("errors").EnumerateObject().Select(e => e.Name).Should().Equal("credentialIds", "password");

        var noPassword = await ProblemAsync(await admin.PostAsJsonAsync("/api/projects/1/credentials/reveal", new { credentialIds = new[] { "site.mqtt" } }));
        noPassword.GetProperty("code").GetString().Should().Be("password-required");
        noPassword.GetProperty("errors").EnumerateObject().Select(e => e.Name).Should().Equal("password");

        var oneWithout = await ProblemAsync(await admin.PostAsJsonAsync("/api/projects/1/credentials/site.mqtt/reveal", new { }));
        oneWithout.GetProperty("code").GetString().Should().Be("password-required");
        oneWithout.GetProperty("errors").GetProperty("password")[0].GetString().Should().Be("Enter your current password.");
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        response.StatusCode.Should().Be(HttpStatusCode.BadRequest, body);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    [Fact]
    public async Task Wrong_reveal_passwords_lock_the_account_as_failed_sign_ins_do_and_a_locked_account_s_password_is_not_checked()
    {
        var settings = DeployApiTests.FastDemo();
        settings["Auth:LockoutThreshold"] = "2";
        settings["Auth:SignInPermitLimit"] = "50";
        using var app = new ProvisionerApp(settings: settings);
        var name = await app.CreateUserAsync(Role.Admin);
        using var admin = await app.SignInAsync(name, ProvisionerApp.UserPassword);
        // Project 1 has no credentials: a confirmed password gets 404, a refused one 403.
        Task<HttpResponseMessage> RevealAsync(string password) => admin.PostAsJsonAsync("/api/projects/1/credentials/site.mqtt/reveal", new { password });

        (await RevealAsync(ProvisionerApp.UserPassword)).StatusCode.Should().Be(HttpStatusCode.NotFound, "the right password is confirmed");
        (await RevealAsync("wrong-Passw0rd-guess")).StatusCode.Should().Be(HttpStatusCode.Forbidden);
        (await RevealAsync("wrong-Passw0rd-again")).StatusCode.Should().Be(HttpStatusCode.Forbidden);
        (await RevealAsync(ProvisionerApp.UserPassword)).StatusCode.Should().Be(HttpStatusCode.Forbidden, "the account is locked: even the right password is refused");

        using var other = await app.CreateClientAsync(Role.Admin);
        var users = await other.GetFromJsonAsync<JsonElement>("/api/users");
        users.EnumerateArray().Single(u => u.GetProperty("username").GetString() == name).GetProperty("locked").GetBoolean().Should().BeTrue();
    }
}

/// <summary>A project deployed as the pipeline leaves it: Home Assistant (the emulator) set up by the real flow, guests with their assignments.</summary>
public sealed class HandoverSite : IAsyncLifetime
{
    private const string Release = "2026.06";
    private static int _addresses;

    public HaSimulator Ha { get; private set; } = null!;
    internal ProvisionerApp App { get; private set; } = null!;
    public long ProjectId { get; private set; }
    public long HomeAssistantId { get; private set; }
    public Dictionary<string, long> Guests { get; } = [];
    public string OwnerId => $"i{HomeAssistantId}.homeassistant-owner";
    public string TokenId => $"i{HomeAssistantId}.homeassistant-token";

    public async Task InitializeAsync()
    {
        Ha = await HaSimulator.StartAsync(new HaSimOptions
        {
            Address = $"127.0.34.{10 + Interlocked.Increment(ref _addresses)}",
            LandingDuration = TimeSpan.FromMilliseconds(300),
            RestoreDownTime = TimeSpan.FromMilliseconds(300),
            LandingAfterRestore = TimeSpan.FromMilliseconds(200),
            RestartDownTime = TimeSpan.FromMilliseconds(300),
            BackupLoadDelay = TimeSpan.FromMilliseconds(100),
        });
        var settings = DeployApiTests.FastDemo();
        settings["HomeAssistant:Ports:0"] = Ha.LegacyPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["HomeAssistant:Ports:1"] = Ha.HttpPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["HomeAssistant:PollIntervalSeconds"] = "0.05";
        settings["HomeAssistant:RequestTimeoutSeconds"] = "5";
        App = new ProvisionerApp(settings: settings);
        await App.EnsureSetUpAsync();
        await TestBaseBackup.StoreAsync(App, Release, replace: true);

        using (var operatorClient = await App.CreateClientAsync(Role.Operator))
        {
            var created = await operatorClient.PostAsJsonAsync("/api/projects", new
            {
                name = "Site",
                settings = new
                {
                    zigbee = new { host = "192.168.1.50", port = 6638 },
                    zwave = new { host = "192.168.1.51", port = 3333 },
                    cameras = new[] { new { name = "front-door", streamUrl = "rtsp://viewer:cam-Secret-4711@192.168.1.60:554/stream1" } },
                },
            });
            created.EnsureSuccessStatusCode();
            ProjectId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        }

        var ct = CancellationToken.None;
        var instances = App.Service<InstanceRepository>();
        var project = (await instances.GetProjectAsync(ProjectId, ct))!;
        var siteSettings = JsonSerializer.Deserialize<SiteSettings>(project.SettingsJson, ProjectJson.Options)!;
        foreach (var type in new[] { TemplateTypes.Zigbee2Mqtt, TemplateTypes.ZwaveJs, TemplateTypes.DockerPortainer, TemplateTypes.FreePbx, TemplateTypes.Frigate })
        {
            var (_, rows) = await instances.InsertDeployAsync(ProjectId, project.Slug, "instance", Release, null, [new NewInstance(type, "lxc", 9001, "pve", Release)], ct);
            var row = rows[0];
            await App.Service<AssignmentService>().CreateAsync(row.Id, type, row.Hostname, Release, ProjectId, siteSettings, null, ct);
            await instances.SetIpAsync(row.Id, "127.0.0.1", ct);
            await App.Service<InstanceTransitions>().SetStateAsync(row.Id, InstanceStates.Active, "Running (test)", ct: ct);
            Guests[type] = row.Id;
        }

        var (_, ha) = await instances.InsertDeployAsync(ProjectId, project.Slug, "instance", Release, null, [new NewInstance(TemplateTypes.CtrlablePro, "vm", 9000, "pve", Release)], ct);
        HomeAssistantId = ha[0].Id;
        var url = Ha.BaseAddress.ToString();
        await App.Service<HomeAssistantRepository>().GetAsync(HomeAssistantId, ct);
        await App.Service<HomeAssistantRepository>().SetUrlAsync(HomeAssistantId, url, ct);
        await App.Service<InstanceTransitions>().SetAppUrlAsync(HomeAssistantId, url, ct);
        await App.Service<InstanceTransitions>().SetStateAsync(HomeAssistantId, InstanceStates.Preparing, "located (test)", ct: ct);
        App.Service<DeployRunner>().Enqueue(HomeAssistantId);

        var deadline = DateTime.UtcNow.AddSeconds(90);
        InstanceRow current;
        while (!(current = (await instances.GetAsync(HomeAssistantId, ct))!).IsFinished)
        {
            DateTime.UtcNow.Should().BeBefore(deadline, $"Home Assistant should be set up (it is {current.State}: {current.Message})");
            await Task.Delay(50, ct);
        }

        current.State.Should().Be(InstanceStates.Active, current.Error);
    }

    /// <summary>The stored value of a credential, read as the reveal reads it.</summary>
    public async Task<string> ValueAsync(string credentialId)
    {
        var credentials = App.Service<SiteCredentials>();
        var entry = (await credentials.FindAsync(ProjectId, credentialId, CancellationToken.None))!;
        return (await credentials.RevealAsync(entry, CancellationToken.None))!;
    }

    public async Task<JsonElement> ListedAsync(string credentialId)
    {
        using var admin = await App.CreateClientAsync(Role.Admin);
        var list = await admin.GetFromJsonAsync<JsonElement>($"/api/projects/{ProjectId}/credentials");
        return list.GetProperty("credentials").EnumerateArray().Single(c => c.GetProperty("id").GetString() == credentialId);
    }

    public Task<string?> PendingAsync(string secretName) =>
        App.Service<SecretStore>().GetAsync(SecretKind.HomeAssistantCredential, CredentialRotation.PendingName(secretName));

    /// <summary>Every credential value of the site, as stored now.</summary>
    public async Task<IReadOnlyList<string>> AllValuesAsync()
    {
        var list = (await App.Service<SiteCredentials>().ListAsync(ProjectId, CancellationToken.None))!;
        var values = new List<string>();
        foreach (var credential in list.Credentials)
        {
            values.Add(await ValueAsync(credential.Id));
        }

        return values;
    }

    public async Task DisposeAsync()
    {
        App.Dispose();
        await Ha.DisposeAsync();
    }
}
