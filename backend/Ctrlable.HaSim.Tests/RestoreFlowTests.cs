using System.Net;
using System.Text.Json.Nodes;
using Ctrlable.HaSim.Backups;
using Ctrlable.HaSim.State;

namespace Ctrlable.HaSim.Tests;

public sealed class RestoreFlowTests
{
    private const string AdminUser = "ctrlable";
    private const string AdminPassword = "base-password-1";

    internal static HaSimOptions Fast(string address = "127.0.0.1") => new()
    {
        Address = address,
        LandingDuration = TimeSpan.FromMilliseconds(200),
        RestoreDownTime = TimeSpan.FromMilliseconds(150),
        LandingAfterRestore = TimeSpan.FromMilliseconds(100),
        RestartDownTime = TimeSpan.FromMilliseconds(100),
        BackupLoadDelay = TimeSpan.FromMilliseconds(50),
    };

    [Fact]
    public async Task Landing_phase_answers_401_text_then_onboarding_lists_the_steps()
    {
        await using var sim = await HaSimulator.StartAsync(Fast() with { LandingDuration = TimeSpan.FromSeconds(30) });
        using var client = new HaTestClient(sim);

        sim.Phase.Should().Be(HaPhase.Landing);
        var landing = await client.GetAsync("api/onboarding");
        landing.Status.Should().Be(HttpStatusCode.Unauthorized);
        landing.Text.Should().Be("Unauthorized\n");
        (await client.GetAsync("")).Text.Should().Contain("Preparing Home Assistant");
        using var port80 = new HaTestClient(sim, sim.HttpPort);
        var redirect = await port80.GetAsync("api/onboarding");
        redirect.Status.Should().Be(HttpStatusCode.Found);
    }

    [Fact]
    public async Task Fresh_core_lists_the_onboarding_steps_and_backup_waits_for_its_integration()
    {
        await using var sim = await HaSimulator.StartAsync(Fast());
        await sim.WaitForPhaseAsync(HaPhase.Running);
        using var client = new HaTestClient(sim);

        var steps = await client.GetAsync("api/onboarding");
        steps.Status.Should().Be(HttpStatusCode.OK);
        steps.Body!.AsArray().Select(s => s!["step"]!.GetValue<string>()).Should().Equal("user", "core_config", "analytics", "integration");
        (await client.PostAsync("api/onboarding/integration/wait", new { domain = "backup" })).Body!["integration_loaded"]!.GetValue<bool>().Should().BeTrue();
        (await client.GetAsync("auth/providers")).Body!["code"]!.GetValue<string>().Should().Be("onboarding_required");
        (await client.GetAsync("api/onboarding/installation_type")).Body!["installation_type"]!.GetValue<string>().Should().Be("Home Assistant OS");
    }

    [Fact]
    public async Task Restore_drops_the_connection_and_comes_back_onboarded_with_the_backups_users_and_uuid()
    {
        await using var sim = await HaSimulator.StartAsync(Fast());
        await sim.WaitForPhaseAsync(HaPhase.Running);
        var fresh = sim.State.CoreUuid;
        using var client = new HaTestClient(sim);
        var backup = HaBaseBackup.CreateBackup(new HaBaseBackupSpec(AdminUser, AdminPassword) { CoreUuid = "0123456789abcdef0123456789abcdef" });

        var id = await client.UploadAsync(backup.Write());
        var info = await client.GetAsync("api/onboarding/backup/info");
        info.Body!["backups"]![0]!["backup_id"]!.GetValue<string>().Should().Be(id);
        info.Body["backups"]![0]!["agents"]!["hassio.local"]!["protected"]!.GetValue<bool>().Should().BeFalse();

        var restore = await client.PostAsync("api/onboarding/backup/restore", new { backup_id = id, agent_id = "hassio.local", restore_addons = Array.Empty<string>(), restore_database = true });
        restore.Status.Should().Be(HttpStatusCode.OK);
        restore.Text.Should().BeEmpty();

        await client.WaitForStatusAsync("api/onboarding", HttpStatusCode.NotFound);
        var providers = await client.GetAsync("auth/providers");
        providers.Status.Should().Be(HttpStatusCode.OK);
        providers.Body!["providers"]![0]!["type"]!.GetValue<string>().Should().Be("homeassistant");

        var state = sim.State;
        state.CoreUuid.Should().Be("0123456789abcdef0123456789abcdef").And.NotBe(fresh);
        state.RestoredBackupId.Should().Be(id);
        state.Boots.Should().Be(2);
        state.Owner!.Name.Should().Be("Ctrlable Admin");
        state.RefreshTokens.Should().Contain(t => t.TokenType == HaRefreshToken.LongLived && t.ClientName == "base-setup");
        state.PasswordMatches(AdminUser, AdminPassword).Should().BeTrue();
    }

    [Fact]
    public async Task After_restore_the_base_admin_logs_in_and_rotates_credentials_over_the_websocket()
    {
        await using var sim = await RestoredAsync(HaBaseBackup.Create(new HaBaseBackupSpec(AdminUser, AdminPassword)));
        using var client = new HaTestClient(sim);

        var wrong = await client.PostAsync("auth/login_flow", new { client_id = client.ClientId, handler = new object?[] { "homeassistant", null }, redirect_uri = client.ClientId });
        var failed = await client.PostAsync($"auth/login_flow/{wrong.Body!["flow_id"]}", new { client_id = client.ClientId, username = AdminUser, password = "nope" });
        failed.Body!["errors"]!["base"]!.GetValue<string>().Should().Be("invalid_auth");

        var token = await client.LoginAsync(AdminUser, AdminPassword);
        token["token_type"]!.GetValue<string>().Should().Be("Bearer");
        token["expires_in"]!.GetValue<int>().Should().Be(1800);

        await using var ws = await client.ConnectAsync();
        ws.AuthReply!["type"]!.GetValue<string>().Should().Be("auth_ok");
        var me = await ws.CommandAsync("auth/current_user");
        me["result"]!["is_owner"]!.GetValue<bool>().Should().BeTrue();

        (await ws.CommandAsync("config/auth_provider/homeassistant/admin_change_password",
            new JsonObject { ["user_id"] = me["result"]!["id"]!.GetValue<string>(), ["password"] = "site-password" }))["success"]!.GetValue<bool>().Should().BeTrue();
        var created = await ws.CommandAsync("config/auth/create", new JsonObject { ["name"] = "Ctrlable Orchestrator", ["group_ids"] = new JsonArray("system-admin") });
        var userId = created["result"]!["user"]!["id"]!.GetValue<string>();
        (await ws.CommandAsync("config/auth_provider/homeassistant/create",
            new JsonObject { ["user_id"] = userId, ["username"] = "orchestrator", ["password"] = "orchestrator-pw" }))["success"]!.GetValue<bool>().Should().BeTrue();
        var llat = await ws.CommandAsync("auth/long_lived_access_token", new JsonObject { ["client_name"] = "orchestrator", ["lifespan"] = 3650 });
        llat["result"]!.GetValue<string>().Should().Contain(".");

        var tokens = await ws.CommandAsync("auth/refresh_tokens");
        var baseToken = tokens["result"]!.AsArray().Single(t => t!["client_name"]?.GetValue<string>() == "base-setup")!["id"]!.GetValue<string>();
        (await ws.CommandAsync("auth/delete_refresh_token", new JsonObject { ["refresh_token_id"] = baseToken }))["success"]!.GetValue<bool>().Should().BeTrue();
        var extra = await ws.CommandAsync("auth/refresh_tokens", new JsonObject { ["bogus"] = 1 });
        extra["error"]!["code"]!.GetValue<string>().Should().Be("invalid_format");

        var state = sim.State;
        state.PasswordMatches(AdminUser, "site-password").Should().BeTrue();
        state.PasswordMatches(AdminUser, AdminPassword).Should().BeFalse();
        state.PasswordMatches("orchestrator", "orchestrator-pw").Should().BeTrue();
        state.RefreshTokens.Should().NotContain(t => t.ClientName == "base-setup");
        state.Users.Single(u => u.Id == userId).IsAdmin.Should().BeTrue();

        // The long-lived token works on REST.
        client.AccessToken = llat["result"]!.GetValue<string>();
        (await client.GetAsync("api/")).Body!["message"]!.GetValue<string>().Should().Be("API running.");
    }

    [Fact]
    public async Task Protected_backup_with_a_wrong_password_fails_clearly_and_restores_with_the_right_one()
    {
        await using var sim = await HaSimulator.StartAsync(Fast());
        await sim.WaitForPhaseAsync(HaPhase.Running);
        using var client = new HaTestClient(sim);
        var id = await client.UploadAsync(HaBaseBackup.Create(new HaBaseBackupSpec(AdminUser, AdminPassword) { Password = "right-key" }));

        var none = await client.PostAsync("api/onboarding/backup/restore", new { backup_id = id, agent_id = "hassio.local" });
        none.Status.Should().Be(HttpStatusCode.BadRequest);
        none.Body!["code"]!.GetValue<string>().Should().Be("incorrect_password");
        var wrong = await client.PostAsync("api/onboarding/backup/restore", new { backup_id = id, agent_id = "hassio.local", password = "wrong-key" });
        wrong.Body!["code"]!.GetValue<string>().Should().Be("incorrect_password");
        var agent = await client.PostAsync("api/onboarding/backup/restore", new { backup_id = id, agent_id = "backup.local", password = "right-key" });
        agent.Body!["code"]!.GetValue<string>().Should().Be("restore_failed");
        var database = await client.PostAsync("api/onboarding/backup/restore", new { backup_id = id, agent_id = "hassio.local", password = "right-key", restore_database = false });
        database.Body!["message"]!.GetValue<string>().Should().Be("Restore database must match backup");
        sim.State.RestoredBackupId.Should().BeNull();

        (await client.PostAsync("api/onboarding/backup/restore", new { backup_id = id, agent_id = "hassio.local", password = "right-key" })).Status.Should().Be(HttpStatusCode.OK);
        await client.WaitForStatusAsync("api/onboarding", HttpStatusCode.NotFound);
        sim.State.PasswordMatches(AdminUser, AdminPassword).Should().BeTrue();
    }

    [Fact]
    public async Task Keep_and_regenerate_uuid_policies_are_visible_in_the_state()
    {
        var backup = HaBaseBackup.CreateBackup(new HaBaseBackupSpec(AdminUser, AdminPassword));
        await using (var keep = await RestoredAsync(backup.Write()))
        {
            keep.State.CoreUuid.Should().Be(backup.Metadata["extra"]!["instance_id"]!.GetValue<string>());
        }

        // Regenerate: the orchestrator strips core.uuid (and the base's tokens) from a per-site copy before upload.
        var config = HaConfig.FromFiles(HaBackup.Read(backup.Write(), null).ConfigFiles);
        config.CoreUuid = null;
        config.RefreshTokens.RemoveAll(t => t.TokenType != HaRefreshToken.System);
        await using var regenerated = await RestoredAsync(backup.WithConfig(config).Write());
        regenerated.State.CoreUuid.Should().NotBeNull().And.NotBe(backup.Metadata["extra"]!["instance_id"]!.GetValue<string>());
        regenerated.State.RefreshTokens.Should().OnlyContain(t => t.TokenType == HaRefreshToken.System);
    }

    [Fact]
    public async Task A_failed_restore_brings_core_back_unrestored_with_a_failed_action_event()
    {
        await using var sim = await HaSimulator.StartAsync(Fast());
        await sim.WaitForPhaseAsync(HaPhase.Running);
        using var client = new HaTestClient(sim);
        var id = await client.UploadAsync(HaBaseBackup.Create(new HaBaseBackupSpec(AdminUser, AdminPassword)));
        sim.FailNextRestore("Supervisor could not extract homeassistant.tar.gz");

        (await client.PostAsync("api/onboarding/backup/restore", new { backup_id = id, agent_id = "hassio.local" })).Status.Should().Be(HttpStatusCode.OK);
        await WaitUntilAsync(() => sim.State.Boots == 2 && sim.Phase == HaPhase.Running);
        await sim.WaitForPhaseAsync(HaPhase.Running);

        var info = await client.GetAsync("api/onboarding/backup/info");
        info.Body!["last_action_event"]!["state"]!.GetValue<string>().Should().Be("failed");
        info.Body["last_action_event"]!["manager_state"]!.GetValue<string>().Should().Be("restore_backup");
        sim.State.OnboardingDone.Should().BeEmpty();
    }

    internal static async Task<HaSimulator> RestoredAsync(byte[] tar, HaSimOptions? options = null)
    {
        var sim = await HaSimulator.StartAsync(options ?? Fast());
        await sim.WaitForPhaseAsync(HaPhase.Running);
        using var client = new HaTestClient(sim);
        var id = await client.UploadAsync(tar);
        (await client.PostAsync("api/onboarding/backup/restore", new { backup_id = id, agent_id = "hassio.local" })).Status.Should().Be(HttpStatusCode.OK);
        await client.WaitForStatusAsync("auth/providers", HttpStatusCode.OK);
        return sim;
    }

    internal static async Task WaitUntilAsync(Func<bool> condition)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            if (DateTime.UtcNow > until)
            {
                throw new TimeoutException("condition never held");
            }

            await Task.Delay(20);
        }
    }
}
