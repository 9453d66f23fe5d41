using Ctrlable.Provisioner.Releases;
using Ctrlable.Provisioner.Secrets;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.HomeAssistant.Setup;

/// <summary>Home Assistant step "securing": sign in with the base credentials, create the orchestrator's user and token, rotate the owner's password.</summary>
public sealed class SecurePhase(
    PhaseSupport support,
    HomeAssistantRepository sites,
    HomeAssistantClient ha,
    HomeAssistantCredentials credentials,
    SecretStore secrets,
    BaseBackupStore baseBackups,
    InstanceSteps steps)
{
    private const string OrchestratorName = "Ctrlable Orchestrator";

    /// <summary>
    /// Signs in as the base's owner, creates the per-site orchestrator user with a long-lived token (kept encrypted), removes
    /// the base's tokens and gives the owner a per-site password. Each part looks first, so a resumed step skips what is done.
    /// </summary>
    public async Task RunAsync(InstanceRow instance, CancellationToken ct)
    {
        var url = await support.UrlAsync(instance, ct);
        var site = await sites.GetAsync(instance.Id, ct);
        var backup = await baseBackups.GetAsync(instance.Release!, ct)
            ?? throw new BackupArchiveException($"Release {instance.Release} has no base backup stored on the orchestrator, so its Home Assistant credentials are unknown.");
        var admin = await credentials.CredentialsAsync(HomeAssistantSetup.AdminSecretName(instance.Id), backup.Credentials.Username, ct);
        var orchestrator = await credentials.CredentialsAsync(HomeAssistantSetup.OrchestratorSecretName(instance.Id), HomeAssistantSetup.OrchestratorUsername, ct);

        await steps.SayAsync(instance, "Signing in with the release's base credentials", ct);
        var adminTokens = await SignInAdminAsync(instance, url, site, backup, admin, ct);
        await using (var socket = await HomeAssistantSocket.ConnectAsync(url, adminTokens.AccessToken, support.RequestTimeout, ct))
        {
            var me = await socket.CurrentUserAsync(ct);
            if (!me.IsOwner)
            {
                // Nothing was changed; the session this sign-in opened is the orchestrator's own and goes with it.
                await DropSessionAsync(url, adminTokens, ct);
                throw new HomeAssistantException($"The base backup's user '{backup.Credentials.Username}' is not Home Assistant's owner; only the owner can set passwords. Make the base backup with the owner's credentials.");
            }

            await steps.SayAsync(instance, "Creating the orchestrator's user", ct);
            await EnsureOrchestratorUserAsync(instance, socket, orchestrator, ct);

            // The base's sessions and long-lived tokens of the owner (a kept uuid policy restores them).
            foreach (var token in (await socket.ListRefreshTokensAsync(ct)).Where(t => !t.IsCurrent && t.Type != "system"))
            {
                await socket.DeleteRefreshTokenAsync(token.Id, ct);
            }

            if ((await sites.GetAsync(instance.Id, ct)).AdminRotatedAt is null)
            {
                await steps.SayAsync(instance, "Giving the site's owner its own password", ct);
                await socket.AdminChangePasswordAsync(me.Id, admin.Password, ct);
                await sites.SetAdminRotatedAsync(instance.Id, ct);
                await steps.PointAsync(instance.Id, HomeAssistantSetup.AdminRotated, ct);
            }
        }

        await EnsureOrchestratorTokenAsync(instance, url, orchestrator, ct);
        await DropSessionAsync(url, adminTokens, ct);
        await sites.SetSecuredAsync(instance.Id, ct);
        await support.NextAsync(instance, InstanceStates.Wiring, "Signed in; wiring the project's services", support.Options.WiringWaitSeconds, ct);
    }

    private async Task<HomeAssistantTokens> SignInAdminAsync(InstanceRow instance, Uri url, HomeAssistantSite site, BaseBackup backup, HomeAssistantCredentials.SiteCredentials admin, CancellationToken ct)
    {
        // One wrong attempt at most (failed logins count towards an IP ban): the base password unless the per-site one is recorded as set.
        var first = site.AdminRotatedAt is null ? backup.Credentials.Password : admin.Password;
        try
        {
            return await ha.SignInAsync(url, backup.Credentials.Username, first, ct);
        }
        catch (HomeAssistantException ex) when (ex.Code == "invalid_auth" && site.AdminRotatedAt is null)
        {
            // The password may have been changed just before a restart that lost the record.
            try
            {
                var tokens = await ha.SignInAsync(url, backup.Credentials.Username, admin.Password, ct);
                await sites.SetAdminRotatedAsync(instance.Id, ct);
                return tokens;
            }
            catch (HomeAssistantException again) when (again.Code == "invalid_auth")
            {
                throw new HomeAssistantException(
                    $"Home Assistant refused the base credentials of release {instance.Release} (user '{backup.Credentials.Username}'): the base backup's owner has another password than the one stored with the release.", code: "invalid_auth");
            }
        }
    }

    private async Task EnsureOrchestratorUserAsync(InstanceRow instance, HomeAssistantSocket socket, HomeAssistantCredentials.SiteCredentials orchestrator, CancellationToken ct)
    {
        var site = await sites.GetAsync(instance.Id, ct);
        var users = await socket.ListUsersAsync(ct);
        var existing = users.FirstOrDefault(u => u.Username == orchestrator.Username)
            ?? (site.OrchestratorUserId is { } known ? users.FirstOrDefault(u => u.Id == known) : null);
        if (existing is null)
        {
            var userId = await socket.CreateUserAsync(OrchestratorName, ["system-admin"], ct);
            await sites.SetOrchestratorUserAsync(instance.Id, userId, ct);
            await socket.CreateCredentialsAsync(userId, orchestrator.Username, orchestrator.Password, ct);
            return;
        }

        await sites.SetOrchestratorUserAsync(instance.Id, existing.Id, ct);
        if (existing.Username is null)
        {
            await socket.CreateCredentialsAsync(existing.Id, orchestrator.Username, orchestrator.Password, ct);
        }
        else
        {
            // Made by an attempt cut short: make sure its password is the stored one.
            await socket.AdminChangePasswordAsync(existing.Id, orchestrator.Password, ct);
        }
    }

    /// <summary>A long-lived token of the orchestrator's user, kept encrypted; every other token of that user is removed.</summary>
    private async Task EnsureOrchestratorTokenAsync(InstanceRow instance, Uri url, HomeAssistantCredentials.SiteCredentials orchestrator, CancellationToken ct)
    {
        if (orchestrator.Token is { } stored && await TokenWorksAsync(url, stored, ct))
        {
            return;
        }

        await steps.SayAsync(instance, "Creating the orchestrator's long-lived token", ct);
        var session = await ha.SignInAsync(url, orchestrator.Username, orchestrator.Password, ct);
        string token;
        await using (var socket = await HomeAssistantSocket.ConnectAsync(url, session.AccessToken, support.RequestTimeout, ct))
        {
            token = await socket.CreateLongLivedTokenAsync(HomeAssistantSetup.TokenClientName, HomeAssistantSetup.TokenLifespanDays, ct);
            await secrets.SetAsync(SecretKind.HomeAssistantCredential, HomeAssistantSetup.OrchestratorSecretName(instance.Id), HomeAssistantCredentials.Serialize(orchestrator with { Token = token }), ct);
            var keep = HomeAssistantTokens.IssuerOf(token);
            // Older tokens of an attempt cut short; the session used here goes last.
            foreach (var other in (await socket.ListRefreshTokensAsync(ct)).Where(t => t.Type != "system" && t.Id != keep && !t.IsCurrent))
            {
                if (keep is not null || other.Type != "long_lived_access_token")
                {
                    await socket.DeleteRefreshTokenAsync(other.Id, ct);
                }
            }
        }

        await DropSessionAsync(url, session, ct);
    }

    private async Task<bool> TokenWorksAsync(Uri url, string token, CancellationToken ct)
    {
        try
        {
            await using var socket = await HomeAssistantSocket.ConnectAsync(url, token, support.RequestTimeout, ct);
            return true;
        }
        catch (HomeAssistantException ex) when (ex.Code == "auth_invalid")
        {
            return false;
        }
    }

    /// <summary>Removes the refresh token behind a session the orchestrator no longer needs.</summary>
    private async Task DropSessionAsync(Uri url, HomeAssistantTokens session, CancellationToken ct)
    {
        if (session.RefreshTokenId is not { } id)
        {
            return;
        }

        try
        {
            await using var socket = await HomeAssistantSocket.ConnectAsync(url, session.AccessToken, support.RequestTimeout, ct);
            await socket.DeleteRefreshTokenAsync(id, ct);
        }
        catch (HomeAssistantException ex) when (ex.IsTransient || ex.Code is "auth_invalid")
        {
            // Deleting the token a connection runs on may end that connection first; gone either way.
        }
    }
}
