using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.HomeAssistant;
using Ctrlable.Provisioner.Manifest;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.Releases;
using Ctrlable.Provisioner.Secrets;
using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Deploy;

/// <summary>
/// The Home Assistant steps of a ctrlable-pro instance, after its VM started. HAOS has no first-boot script of ours,
/// so the orchestrator drives it from outside over Home Assistant's own API: locate it (guest agent, live port), wait
/// through the landing phase, restore the release's base backup during onboarding (a per-site copy with a fresh
/// core.uuid unless the release keeps it), sign in with the base credentials and rotate them, then wire the project's
/// services through config flows. Each step records what it did (homeassistant_sites) and starts by looking at what
/// Home Assistant holds, so a restarted orchestrator resumes it without uploading or restoring twice.
/// </summary>
public sealed class HomeAssistantSetup(
    InstanceRepository instances,
    HomeAssistantRepository sites,
    HomeAssistantClient ha,
    ProxmoxClient proxmox,
    SecretStore secrets,
    BaseBackupStore baseBackups,
    ReleaseCatalog catalog,
    ProjectMqttCredentials mqttCredentials,
    AddressAllocator addresses,
    InstanceSteps steps,
    IOptions<HomeAssistantOptions> options,
    IOptions<StorageOptions> storage,
    TimeProvider time,
    ILogger<HomeAssistantSetup> logger)
{
    /// <summary>The tag host/ctrlable-build puts on the ctrlable-pro template (HAOS); clones keep it.</summary>
    public const string TemplateTag = "ctrlable-haos";

    /// <summary>The per-site user the orchestrator keeps a long-lived token of.</summary>
    public const string OrchestratorUsername = "ctrlable-orchestrator";

    /// <summary>Points inside the steps where a crash test can stop the orchestrator.</summary>
    public const string BackupUploaded = "ha-backup-uploaded";
    public const string RestoreRequested = "ha-restore-requested";
    public const string AdminRotated = "ha-admin-rotated";
    public const string HostnameSet = "ha-hostname-set";
    public const string NetworkRequested = "ha-network-requested";

    private const string OrchestratorName = "Ctrlable Orchestrator";
    /// <summary>The long-lived token's client name and lifespan (also when an admin rotates it, Handover/).</summary>
    internal const string TokenClientName = "Ctrlable Provisioner";
    internal const int TokenLifespanDays = 3650;
    private const string MosquittoAddon = "core_mosquitto";

    private HomeAssistantOptions Options => options.Value;
    private TimeSpan Poll => TimeSpan.FromSeconds(Options.PollIntervalSeconds);
    private TimeSpan RequestTimeout => TimeSpan.FromSeconds(Options.RequestTimeoutSeconds);

    public static string AdminSecretName(long instanceId) => $"instance/{instanceId}/homeassistant-admin";

    public static string OrchestratorSecretName(long instanceId) => $"instance/{instanceId}/homeassistant-orchestrator";

    /// <summary>
    /// Runs the instance's current Home Assistant step. Home Assistant restarts on its own (a restore, an add-on, an
    /// update): while it does not answer, the step is run again — every step looks first, so that is safe — until the
    /// step's recorded deadline; then the pipeline fails the instance with Home Assistant's last error.
    /// </summary>
    public async Task RunStepAsync(InstanceRow instance, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await (instance.State switch
                {
                    InstanceStates.Locating => LocateAsync(instance, ct),
                    InstanceStates.Preparing => PrepareAsync(instance, ct),
                    InstanceStates.Restoring => RestoreAsync(instance, ct),
                    InstanceStates.Securing => SecureAsync(instance, ct),
                    InstanceStates.Wiring => WireAsync(instance, ct),
                    _ => throw new InvalidOperationException($"{instance.State} is not a Home Assistant step."),
                });
                return;
            }
            catch (HomeAssistantException ex) when (ex.IsTransient || ex.Code == "moved")
            {
                var current = await instances.GetAsync(instance.Id, ct);
                if (current is null || current.State != instance.State)
                {
                    return;
                }

                if (current.DeadlineAt is { } deadline ? time.GetUtcNow() > deadline : attempt >= 10)
                {
                    if (current.State == InstanceStates.Wiring && (await sites.FindAsync(instance.Id, ct))?.WiredAt is not null)
                    {
                        // A later service could not be wired: Home Assistant itself runs as before.
                        await steps.MoveAsync(current, InstanceStates.Active, "Running; a service could not be wired", error: ex.Message, ct: ct);
                        return;
                    }

                    throw;
                }

                if (ex.Code == "moved" && (await sites.FindAsync(instance.Id, ct))?.Url is { } url)
                {
                    await RelocateAsync(instance, new Uri(url), ct);
                }

                await steps.SayAsync(current, $"Home Assistant is not answering ({ex.Message}); trying again", ct);
                await Task.Delay(Poll, time, ct);
                instance = current;
            }
        }
    }

    // --- 2: locate ------------------------------------------------------------------------------

    /// <summary>The VM's address from the guest agent (Home Assistant's own docker and hassio bridges left out), then the port that answers without a redirect.</summary>
    private async Task LocateAsync(InstanceRow instance, CancellationToken ct)
    {
        var deadline = await DeadlineAsync(instance, Options.LocateTimeoutSeconds, ct);
        while (await StillAsync(instance, ct))
        {
            var address = await AddressAsync(instance, ct);
            if (address is not null && (await instances.GetAsync(instance.Id, ct))?.Ip != address)
            {
                // Known from here on: under DHCP the project's other guests reach their broker (this Home Assistant) by it.
                await instances.SetIpAsync(instance.Id, address, ct);
            }

            if (address is not null && await ha.FindLivePortAsync(address, ct) is { } port)
            {
                await sites.GetAsync(instance.Id, ct);
                var url = await MoveToAsync(instance, address, port, ct);
                await NextAsync(instance, InstanceStates.Preparing, $"Home Assistant answers at {url}; waiting for it to be ready", Options.PrepareTimeoutSeconds, ct);
                return;
            }

            var waiting = address is null
                ? "Waiting for the VM's address (QEMU guest agent)"
                : $"Waiting for Home Assistant at {address} (ports {string.Join(", ", Options.ProbePorts)})";
            if (time.GetUtcNow() > deadline)
            {
                await FailAsync(instance, "Home Assistant not found", $"{waiting} took longer than {Minutes(Options.LocateTimeoutSeconds)}. Check that the VM booted, that its QEMU guest agent is enabled (agent: 1) and that it got an address.", ct);
                return;
            }

            await steps.SayAsync(instance, waiting, ct);
            await Task.Delay(Poll, time, ct);
        }
    }

    private async Task<string?> AddressAsync(InstanceRow instance, CancellationToken ct)
    {
        IReadOnlyList<GuestInterface>? interfaces;
        try
        {
            interfaces = await proxmox.GetGuestInterfacesAsync(instance.Node!, GuestKind.Qemu, (int)instance.Vmid!.Value, ct);
        }
        catch (ProxmoxException ex) when (ex.Status == HttpStatusCode.InternalServerError)
        {
            // "QEMU guest agent is not running" while the VM boots.
            return null;
        }

        return PrimaryAddress(interfaces);
    }

    /// <summary>
    /// The guest's LAN address: IPv4 before IPv6, never loopback, link-local, Home Assistant's internal networks
    /// (docker0, hassio 172.30.32.0/23, veth*, br-*) or Supervisor's 172.30.232.0/23 DNS network.
    /// </summary>
    internal static string? PrimaryAddress(IReadOnlyList<GuestInterface>? interfaces) => LanAddresses(interfaces).FirstOrDefault();

    /// <summary>
    /// Every LAN address of the guest in <see cref="PrimaryAddress"/>'s order and with its filter; with
    /// <paramref name="mac"/>, only those of the interface with that hardware address (the NIC the orchestrator gave the
    /// guest) where the interface reports one.
    /// </summary>
    internal static IReadOnlyList<string> LanAddresses(IReadOnlyList<GuestInterface>? interfaces, string? mac = null)
    {
        var candidates = new List<IPAddress>();
        foreach (var nic in interfaces ?? [])
        {
            if (nic.Name is "lo" or "hassio" || nic.Name.StartsWith("docker", StringComparison.Ordinal)
                || nic.Name.StartsWith("veth", StringComparison.Ordinal) || nic.Name.StartsWith("br-", StringComparison.Ordinal))
            {
                continue;
            }

            if (mac is not null && (nic.HardwareAddress ?? nic.Hwaddr) is { } reported && !string.Equals(reported, mac, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            candidates.AddRange(nic.Addresses().Where(IsLan));
        }

        return [.. candidates.OrderBy(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 0 : 1).Select(a => a.ToString()).Distinct()];
    }

    private static bool IsLan(IPAddress address)
    {
        if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            return !address.Equals(IPAddress.IPv6Loopback) && !address.IsIPv6LinkLocal;
        }

        var b = address.GetAddressBytes();
        var loopback = b[0] == 127 && b[1] == 0 && b[2] == 0 && b[3] == 1;
        var linkLocal = b[0] == 169 && b[1] == 254;
        var hassio = b[0] == 172 && b[1] == 30 && (b[2] & 0xFE) is 32 or 232;
        return !loopback && !linkLocal && !hassio;
    }

    // --- 3: landing phase ---------------------------------------------------------------------

    /// <summary>Waits until Core answers onboarding: fresh (restore next), or onboarded already (a resumed or retried deploy).</summary>
    private async Task PrepareAsync(InstanceRow instance, CancellationToken ct)
    {
        var deadline = await DeadlineAsync(instance, Options.PrepareTimeoutSeconds, ct);
        while (await StillAsync(instance, ct))
        {
            var url = await UrlAsync(instance, ct);
            var status = await ha.GetOnboardingAsync(url, ct);
            switch (status.Phase)
            {
                case OnboardingPhase.Fresh:
                    await NextAsync(instance, InstanceStates.Restoring, "Home Assistant is ready; restoring the base backup", Options.RestoreTimeoutSeconds, ct);
                    return;
                case OnboardingPhase.Onboarded:
                    // Restored already (a resumed or retried deploy): the sign-in tells whether it is ours.
                    await NextAsync(instance, InstanceStates.Restoring, "Home Assistant is onboarded already; checking the restore", Options.RestoreTimeoutSeconds, ct);
                    return;
                case OnboardingPhase.Partial:
                    await FailAsync(instance, "Home Assistant was onboarded by hand", PartialMessage(status), ct);
                    return;
            }

            if (time.GetUtcNow() > deadline)
            {
                await FailAsync(instance, "Home Assistant did not get ready",
                    $"Home Assistant at {url} was still not ready ({status.Detail}) after {Minutes(Options.PrepareTimeoutSeconds)}. On its first start it installs Home Assistant Core; check the VM's console and its internet access.", ct);
                return;
            }

            await RelocateIfGoneAsync(instance, url, status, ct);
            await steps.SayAsync(instance, $"Preparing Home Assistant ({status.Detail})", ct);
            await Task.Delay(Poll, time, ct);
        }
    }

    private static string PartialMessage(OnboardingStatus status) =>
        $"Someone started Home Assistant's onboarding on this VM ({status.Detail}). The base backup can only be restored before any onboarding step: delete the instance and deploy it again.";

    // --- 4: restore ---------------------------------------------------------------------------

    /// <summary>
    /// Uploads the site's copy of the base backup and restores it through the onboarding backup endpoints, then waits as
    /// Home Assistant's frontend does: Core goes away, comes back onboarded (no onboarding views) with /auth/providers answering.
    /// </summary>
    private async Task RestoreAsync(InstanceRow instance, CancellationToken ct)
    {
        var deadline = await DeadlineAsync(instance, Options.RestoreTimeoutSeconds, ct);
        var requests = 0;
        DateTimeOffset? requestedAt = null;
        while (await StillAsync(instance, ct))
        {
            var site = await sites.GetAsync(instance.Id, ct);
            var url = await UrlAsync(instance, ct);
            var status = await ha.GetOnboardingAsync(url, ct);
            var restoring = site.RestoreRequestedAt is not null;
            switch (status.Phase)
            {
                case OnboardingPhase.Onboarded:
                    if (await ha.GetAuthProvidersAsync(url, ct) is not null)
                    {
                        await sites.SetRestoredAsync(instance.Id, ct);
                        await NextAsync(instance, InstanceStates.Securing, "Base backup restored; signing in", Options.RequestTimeoutSeconds * 10, ct);
                        return;
                    }

                    break;
                case OnboardingPhase.Partial:
                    await FailAsync(instance, "Home Assistant was onboarded by hand", PartialMessage(status), ct);
                    return;
                case OnboardingPhase.Fresh:
                    if (await BackupInfoAsync(url, ct) is not { } info)
                    {
                        break;
                    }

                    if (info.LastActionEvent is { ManagerState: "restore_backup", State: "failed" } failed && restoring)
                    {
                        // Home Assistant keeps reporting this failure until Core restarts: forgetting the request lets a
                        // retry ask for the restore again instead of failing at once on the same event.
                        await sites.ClearRestoreRequestedAsync(instance.Id, ct);
                        await FailAsync(instance, "Restoring the base backup failed",
                            $"Home Assistant could not restore the base backup ({failed.Reason ?? failed.Stage ?? "no reason given"}). Retry the instance; if it fails again, check the base backup of release {instance.Release}.", ct);
                        return;
                    }

                    if (info.State is "restore_backup" || info.LastActionEvent is { ManagerState: "restore_backup", State: "in_progress" })
                    {
                        // Restoring (asked for before a restart whose record was lost, or just now): wait for it.
                        await sites.SetRestoreRequestedAsync(instance.Id, ct);
                        break;
                    }

                    // Fresh and idle: nothing asked yet, or the request got lost; ask (again), a few times at most.
                    if (restoring && requestedAt is { } at && time.GetUtcNow() - at < Poll * 6)
                    {
                        break;
                    }

                    if (++requests > 3)
                    {
                        await FailAsync(instance, "Restoring the base backup failed", $"Home Assistant at {url} accepted the restore request {requests - 1} times but never restarted into the restored configuration.", ct);
                        return;
                    }

                    await RequestRestoreAsync(instance, site, url, info, ct);
                    requestedAt = time.GetUtcNow();
                    break;
            }

            if (time.GetUtcNow() > deadline)
            {
                await FailAsync(instance, "Restoring the base backup timed out",
                    $"Home Assistant at {url} did not come back restored within {Minutes(Options.RestoreTimeoutSeconds)} ({status.Detail}).", ct);
                return;
            }

            await RelocateIfGoneAsync(instance, url, status, ct);
            await steps.SayAsync(instance, site.RestoreRequestedAt is not null || requestedAt is not null
                ? $"Restoring the base backup: Home Assistant restarts ({status.Detail})"
                : $"Waiting for Home Assistant's backup integration ({status.Detail})", ct);
            await Task.Delay(Poll, time, ct);
        }
    }

    /// <summary>
    /// The backup manager's state once Core has loaded the backup integration; null while it has not (the onboarding
    /// backup views answer 404, or 500 <c>backup_disabled</c>, until then).
    /// </summary>
    private async Task<BackupInfo?> BackupInfoAsync(Uri url, CancellationToken ct)
    {
        try
        {
            return await ha.WaitForIntegrationAsync(url, "backup", ct) ? await ha.GetBackupInfoAsync(url, ct) : null;
        }
        catch (HomeAssistantException ex) when (ex.Status is HttpStatusCode.NotFound or HttpStatusCode.InternalServerError)
        {
            return null;
        }
    }

    private async Task RequestRestoreAsync(InstanceRow instance, HomeAssistantSite site, Uri url, BackupInfo info, CancellationToken ct)
    {
        var release = instance.Release ?? throw new HomeAssistantException($"Instance {instance.Id} records no release.");
        var backup = await baseBackups.GetAsync(release, ct)
            ?? throw new BackupArchiveException($"Release {release} has no base backup stored on the orchestrator: an admin uploads it on the Releases page (or with --import-base-backup), then retry the instance.");
        var policy = Policy(release);
        await sites.SetRestorePlanAsync(instance.Id, policy == HaosUuidPolicy.Keep ? "keep" : "regenerate",
            policy == HaosUuidPolicy.Keep ? null : BackupArchive.NewCoreUuid(), ct);
        site = await sites.GetAsync(instance.Id, ct);

        JsonObject manifest;
        await using (var file = File.OpenRead(backup.Path))
        {
            manifest = await BackupArchive.ReadBackupJsonAsync(file, ct);
        }

        var protectedBackup = manifest["protected"]?.GetValue<bool>() == true;
        if (protectedBackup && backup.Credentials.BackupPassword is null)
        {
            throw new BackupArchiveException($"The base backup of release {release} is encrypted but no backup key is stored with it.");
        }

        var backupId = site.BackupId is { } uploaded && info.Backups.Any(b => b.BackupId == uploaded) ? uploaded : null;
        if (backupId is null)
        {
            await steps.SayAsync(instance, site.UuidPolicy == "keep" ? "Uploading the base backup" : "Uploading the site's copy of the base backup (fresh instance id)", ct);
            backupId = await UploadAsync(instance, site, url, backup, ct);
            await sites.SetBackupIdAsync(instance.Id, backupId, ct);
            await steps.PointAsync(instance.Id, BackupUploaded, ct);
        }

        var excludeDatabase = manifest["homeassistant"]?["exclude_database"]?.GetValue<bool>() == true;
        var addons = manifest["addons"] is JsonArray a ? a.Select(x => x?["slug"]?.GetValue<string>()).OfType<string>().ToList() : [];
        var folders = manifest["folders"] is JsonArray f ? f.Select(x => x?.GetValue<string>()).OfType<string>().ToList() : [];
        try
        {
            await ha.RestoreBackupAsync(url, new RestoreRequest(backupId, HomeAssistantClient.SupervisorAgent, protectedBackup ? backup.Credentials.BackupPassword : null,
                RestoreDatabase: !excludeDatabase, RestoreAddons: addons, RestoreFolders: folders), ct);
        }
        catch (HomeAssistantException ex) when (ex.Code == "incorrect_password")
        {
            throw new BackupArchiveException($"The base backup's encryption key is wrong: Home Assistant refused it (release {release}).", ex);
        }

        await sites.SetRestoreRequestedAsync(instance.Id, ct);
        logger.LogInformation("Instance {Instance} ({Hostname}): restore of the base backup requested ({Policy})", instance.Id, instance.Hostname, site.UuidPolicy);
        await steps.PointAsync(instance.Id, RestoreRequested, ct);
    }

    private async Task<string> UploadAsync(InstanceRow instance, HomeAssistantSite site, Uri url, BaseBackup backup, CancellationToken ct)
    {
        var fileName = $"ctrlable-base-{instance.Release}.tar";
        if (site.UuidPolicy == "keep")
        {
            await using var original = File.OpenRead(backup.Path);
            return await ha.UploadBackupAsync(url, original, fileName, ct);
        }

        var work = DataDirectories.Create(storage.Value, "homeassistant");
        var copy = Path.Combine(work, $"instance-{instance.Id}.tar");
        try
        {
            BackupRewriteResult result;
            await using (var source = File.OpenRead(backup.Path))
            await using (var destination = File.Create(copy))
            {
                result = await BackupArchive.RewriteAsync(source, destination, new BackupRewrite(site.CoreUuid!, backup.Credentials.BackupPassword), work, ct);
            }

            logger.LogInformation("Instance {Instance} ({Hostname}): site copy of the base backup made (encrypted {Encrypted}, {Removed} refresh tokens removed)",
                instance.Id, instance.Hostname, result.Encrypted, result.RefreshTokensRemoved);
            await using var upload = File.OpenRead(copy);
            return await ha.UploadBackupAsync(url, upload, fileName, ct);
        }
        finally
        {
            File.Delete(copy);
        }
    }

    private HaosUuidPolicy Policy(string release) =>
        catalog.Find(release)?.Manifest?.Decisions.HaosUuidPolicy ?? HaosUuidPolicy.Regenerate;

    // --- 5: sign in and rotate ----------------------------------------------------------------

    /// <summary>
    /// Signs in as the base's owner, creates the per-site orchestrator user with a long-lived token (kept encrypted), removes
    /// the base's tokens and gives the owner a per-site password. Each part looks first, so a resumed step skips what is done.
    /// </summary>
    private async Task SecureAsync(InstanceRow instance, CancellationToken ct)
    {
        var url = await UrlAsync(instance, ct);
        var site = await sites.GetAsync(instance.Id, ct);
        var backup = await baseBackups.GetAsync(instance.Release!, ct)
            ?? throw new BackupArchiveException($"Release {instance.Release} has no base backup stored on the orchestrator, so its Home Assistant credentials are unknown.");
        var admin = await CredentialsAsync(AdminSecretName(instance.Id), backup.Credentials.Username, ct);
        var orchestrator = await CredentialsAsync(OrchestratorSecretName(instance.Id), OrchestratorUsername, ct);

        await steps.SayAsync(instance, "Signing in with the release's base credentials", ct);
        var adminTokens = await SignInAdminAsync(instance, url, site, backup, admin, ct);
        await using (var socket = await HomeAssistantSocket.ConnectAsync(url, adminTokens.AccessToken, RequestTimeout, ct))
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
                await steps.PointAsync(instance.Id, AdminRotated, ct);
            }
        }

        await EnsureOrchestratorTokenAsync(instance, url, orchestrator, ct);
        await DropSessionAsync(url, adminTokens, ct);
        await sites.SetSecuredAsync(instance.Id, ct);
        await NextAsync(instance, InstanceStates.Wiring, "Signed in; wiring the project's services", Options.WiringWaitSeconds, ct);
    }

    private async Task<HomeAssistantTokens> SignInAdminAsync(InstanceRow instance, Uri url, HomeAssistantSite site, BaseBackup backup, SiteCredentials admin, CancellationToken ct)
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

    private async Task EnsureOrchestratorUserAsync(InstanceRow instance, HomeAssistantSocket socket, SiteCredentials orchestrator, CancellationToken ct)
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
    private async Task EnsureOrchestratorTokenAsync(InstanceRow instance, Uri url, SiteCredentials orchestrator, CancellationToken ct)
    {
        if (orchestrator.Token is { } stored && await TokenWorksAsync(url, stored, ct))
        {
            return;
        }

        await steps.SayAsync(instance, "Creating the orchestrator's long-lived token", ct);
        var session = await ha.SignInAsync(url, orchestrator.Username, orchestrator.Password, ct);
        string token;
        await using (var socket = await HomeAssistantSocket.ConnectAsync(url, session.AccessToken, RequestTimeout, ct))
        {
            token = await socket.CreateLongLivedTokenAsync(TokenClientName, TokenLifespanDays, ct);
            await secrets.SetAsync(SecretKind.HomeAssistantCredential, OrchestratorSecretName(instance.Id), Serialize(orchestrator with { Token = token }), ct);
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
            await using var socket = await HomeAssistantSocket.ConnectAsync(url, token, RequestTimeout, ct);
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
            await using var socket = await HomeAssistantSocket.ConnectAsync(url, session.AccessToken, RequestTimeout, ct);
            await socket.DeleteRefreshTokenAsync(id, ct);
        }
        catch (HomeAssistantException ex) when (ex.IsTransient || ex.Code is "auth_invalid")
        {
            // Deleting the token a connection runs on may end that connection first; gone either way.
        }
    }

    /// <summary>Per-site credentials, generated and stored before first use so that a restart uses the same ones.</summary>
    private async Task<SiteCredentials> CredentialsAsync(string name, string username, CancellationToken ct)
    {
        if (await secrets.GetAsync(SecretKind.HomeAssistantCredential, name, ct) is { } json
            && JsonSerializer.Deserialize<SiteCredentials>(json, JsonSerializerOptions.Web) is { } stored && stored.Username == username)
        {
            return stored;
        }

        var created = new SiteCredentials(username, GeneratedSecrets.Password(32), null);
        await secrets.SetAsync(SecretKind.HomeAssistantCredential, name, Serialize(created), ct);
        return created;
    }

    private static string Serialize(SiteCredentials credentials) => JsonSerializer.Serialize(credentials, JsonSerializerOptions.Web);

    /// <summary>The orchestrator's long-lived token of a site's Home Assistant; null before the instance is secured.</summary>
    public async Task<string?> TokenAsync(long instanceId, CancellationToken ct) =>
        await secrets.GetAsync(SecretKind.HomeAssistantCredential, OrchestratorSecretName(instanceId), ct) is { } json
            ? JsonSerializer.Deserialize<SiteCredentials>(json, JsonSerializerOptions.Web)?.Token
            : null;

    // --- 6: wiring ----------------------------------------------------------------------------

    /// <summary>
    /// Wires the project's broker, Z-Wave JS and Frigate instances into Home Assistant through config flows driven by each
    /// step's type and step id. Waits (bounded) for those instances still on their first boot; later ones wire themselves
    /// when they become active (<see cref="HomeAssistantRewiring"/>). Entries already there are detected, not duplicated.
    /// </summary>
    private async Task WireAsync(InstanceRow instance, CancellationToken ct)
    {
        var site = await sites.GetAsync(instance.Id, ct);
        var rewiring = site.WiredAt is not null;
        if (!rewiring)
        {
            // Once, before the first wiring: a Home Assistant wired already keeps its name and address.
            await ConfigureHostAsync(instance, ct);
            if (!await StillAsync(instance, ct))
            {
                return;
            }
        }

        try
        {
            await WireServicesAsync(instance, rewiring, ct);
        }
        catch (HomeAssistantException ex) when (rewiring && !ex.IsTransient)
        {
            // Home Assistant runs and was wired before: a service added later that cannot be wired does not make it failed.
            logger.LogWarning("Instance {Instance} ({Hostname}): wiring a later service failed: {Reason}", instance.Id, instance.Hostname, ex.Message);
            await steps.MoveAsync(instance, InstanceStates.Active, "Running; a service could not be wired", error: ex.Message, ct: ct);
            return;
        }

        if (!await StillAsync(instance, ct))
        {
            return;
        }

        await sites.SetWiredAsync(instance.Id, ct);
        await instances.SetDeadlineAsync(instance.Id, null, ct);
        // The platform enrols the site's Home Assistant from the next report (triggered by this move): the instance with
        // its URL, UUID policy, core.uuid and step times (Platform/PlatformRepository); credentials stay here.
        await steps.MoveAsync(instance, InstanceStates.Active, "Home Assistant is ready", ct: ct);
    }

    private async Task WireServicesAsync(InstanceRow instance, bool rewiring, CancellationToken ct)
    {
        var url = await UrlAsync(instance, ct);
        var token = await TokenAsync(instance.Id, ct)
            ?? throw new HomeAssistantException("The orchestrator holds no token for this Home Assistant; retry the instance to sign in again.");
        var deadline = instance.DeadlineAt ?? time.GetUtcNow().AddSeconds(Options.WiringWaitSeconds);
        var siblings = await WaitForSiblingsAsync(instance, rewiring ? time.GetUtcNow() : deadline, ct);
        if (siblings is null)
        {
            return;
        }

        var wired = await sites.ListWiringAsync(instance.Id, ct);
        var settings = await SiteSettings.OfProjectAsync(instances, instance.ProjectId, ct);

        // MQTT first: Frigate's integration depends on it.
        var mqtt = await MqttTargetAsync(instance, settings, ct);
        await WireAsync(instance, url, token, wired, "mqtt", mqtt.Target, null, mqtt.Values, ["broker"], ct, mqtt.Before);

        // Each service by its address (or its name where the site's DNS serves the guests' names: SiteAddresses).
        foreach (var (zwave, host) in Reachable(siblings, TemplateTypes.ZwaveJs, settings))
        {
            var target = ZwaveTarget(host);
            await WireAsync(instance, url, token, wired, "zwave_js", target, zwave.Id,
                new Dictionary<string, object?> { ["use_addon"] = false, ["url"] = target }, ["intent_custom", "manual"], ct);
        }

        foreach (var (frigate, host) in Reachable(siblings, TemplateTypes.Frigate, settings))
        {
            var target = FrigateTarget(host);
            await WireAsync(instance, url, token, wired, "frigate", target, frigate.Id,
                new Dictionary<string, object?> { ["url"] = target, ["validate_ssl"] = false }, [], ct);
        }
    }

    private static string ZwaveTarget(string host) => $"ws://{Host(host)}:{AssignmentService.ZwaveServerPort}";

    private static string FrigateTarget(string host) => $"http://{Host(host)}:5000";

    /// <summary>The URL Home Assistant's integration of <paramref name="service"/> (zwavejs, frigate) points at now; null when it is not reachable yet or not wired.</summary>
    internal static string? TargetOf(InstanceRow service, SiteSettings settings) =>
        SiteAddresses.Reach(service, settings) is not { } host ? null : service.Type switch
        {
            TemplateTypes.ZwaveJs => ZwaveTarget(host),
            TemplateTypes.Frigate => FrigateTarget(host),
            _ => null,
        };

    private static IEnumerable<(InstanceRow Instance, string Host)> Reachable(IEnumerable<InstanceRow> siblings, string type, SiteSettings settings) =>
        siblings.Where(s => s.Type == type && s.State == InstanceStates.Active)
            .Select(s => (Instance: s, Host: SiteAddresses.Reach(s, settings)))
            .Where(s => s.Host is not null)
            .Select(s => (s.Instance, s.Host!));

    // --- 6a: host name and address --------------------------------------------------------------

    /// <summary>
    /// Home Assistant OS's own host name becomes the instance's (Supervisor's host options), and under a static plan its
    /// LAN interface gets the instance's address, the gateway and the DNS servers (Supervisor's network API). Each part
    /// is recorded once done; the address is recorded before it is asked for, so a resumed flow looks for Home Assistant
    /// there as well as at the address it had.
    /// </summary>
    private async Task ConfigureHostAsync(InstanceRow instance, CancellationToken ct)
    {
        var token = await TokenAsync(instance.Id, ct)
            ?? throw new HomeAssistantException("The orchestrator holds no token for this Home Assistant; retry the instance to sign in again.");
        var site = await sites.GetAsync(instance.Id, ct);
        if (site.HostnameSetAt is null)
        {
            await using (var socket = await HomeAssistantSocket.ConnectAsync(await UrlAsync(instance, ct), token, RequestTimeout, ct))
            {
                var info = await SupervisorAsync(socket, "/host/info", "get", null, ct);
                if (!(info.ValueKind == JsonValueKind.Object && info.TryGetProperty("hostname", out var name) && name.GetString() == instance.Hostname))
                {
                    await steps.SayAsync(instance, $"Naming Home Assistant's host {instance.Hostname}", ct);
                    await SupervisorAsync(socket, "/host/options", "post", new JsonObject { ["hostname"] = instance.Hostname }, ct);
                }
            }

            await sites.SetHostnameSetAsync(instance.Id, ct);
            await steps.PointAsync(instance.Id, HostnameSet, ct);
        }

        var settings = await SiteSettings.OfProjectAsync(instances, instance.ProjectId, ct);
        if (AddressPlan.Of(settings.Addressing) is not { } plan)
        {
            return;
        }

        var address = await addresses.AllocateAsync(instance.Id, plan, ct);
        site = await sites.GetAsync(instance.Id, ct);
        if (site.NetworkSetAt is not null && site.NetworkAddress == address.ToString())
        {
            return;
        }

        await SetStaticAddressAsync(instance, site, plan, address, token, ct);
    }

    private async Task SetStaticAddressAsync(InstanceRow instance, HomeAssistantSite site, AddressPlan plan, IPAddress address, string token, CancellationToken ct)
    {
        var target = address.ToString();
        var url = await UrlAsync(instance, ct);
        if (url.Host != target && site.NetworkAddress == target && await ha.FindLivePortAsync(target, ct) is { } moved)
        {
            // Asked before a restart (or the answer was lost as the address moved): Home Assistant is there already.
            url = await MoveToAsync(instance, target, moved, ct);
        }

        await using (var socket = await HomeAssistantSocket.ConnectAsync(url, token, RequestTimeout, ct))
        {
            var network = await SupervisorAsync(socket, "/network/info", "get", null, ct);
            if (url.Host == target && HasStaticAddress(network, plan, address))
            {
                await sites.SetNetworkSetAsync(instance.Id, ct);
                return;
            }

            var nic = LanInterface(network, url.Host)
                ?? throw new HomeAssistantException("Home Assistant's Supervisor reports no Ethernet interface to give the static address to.");
            await sites.SetNetworkRequestedAsync(instance.Id, target, ct);
            await steps.SayAsync(instance, $"Giving Home Assistant its address {target} ({nic})", ct);
            var body = new JsonObject
            {
                ["ipv4"] = new JsonObject
                {
                    ["method"] = "static",
                    ["address"] = new JsonArray(plan.Cidr(address)),
                    ["gateway"] = plan.Gateway.ToString(),
                    ["nameservers"] = new JsonArray([.. plan.DnsServers.Select(d => (JsonNode)d.ToString())]),
                },
            };
            try
            {
                await SupervisorAsync(socket, $"/network/interface/{Uri.EscapeDataString(nic)}/update", "post", body, ct);
            }
            catch (HomeAssistantException ex) when (ex.IsTransient || ex.InnerException is OperationCanceledException)
            {
                // The address moved under this connection: the answer is lost, the change most likely made. Look for it.
                logger.LogInformation("Instance {Instance} ({Hostname}): the connection ended while the address was set ({Reason}); looking for Home Assistant at {Address}", instance.Id, instance.Hostname, ex.Message, target);
            }
        }

        await steps.PointAsync(instance.Id, NetworkRequested, ct);
        url = await WaitAtAsync(instance, target, ct);

        // Home Assistant answers at its address: its settings must be the plan's.
        await using (var socket = await HomeAssistantSocket.ConnectAsync(url, token, RequestTimeout, ct))
        {
            if (!HasStaticAddress(await SupervisorAsync(socket, "/network/info", "get", null, ct), plan, address))
            {
                throw new HomeAssistantException($"Home Assistant answers at {target}, but its Supervisor does not report the static address {plan.Cidr(address)} via {plan.Gateway}: set it by hand (Settings → System → Network) or retry the instance.");
            }
        }

        await sites.SetNetworkSetAsync(instance.Id, ct);
        logger.LogInformation("Instance {Instance} ({Hostname}): Home Assistant has its static address {Address}", instance.Id, instance.Hostname, target);
    }

    /// <summary>Waits (until the step's deadline) for Home Assistant to answer at its new address, and records it there.</summary>
    private async Task<Uri> WaitAtAsync(InstanceRow instance, string address, CancellationToken ct)
    {
        var deadline = await DeadlineAsync(instance, Options.WiringWaitSeconds, ct);
        while (true)
        {
            if (await ha.FindLivePortAsync(address, ct) is { } port)
            {
                return await MoveToAsync(instance, address, port, ct);
            }

            if (time.GetUtcNow() > deadline)
            {
                throw new HomeAssistantException(
                    $"Home Assistant did not answer at its new address {address} after its network settings were changed. Check that the site's plan (gateway, VLAN, bridge) lets the orchestrator reach it; Home Assistant's console shows its address ('ha network info').");
            }

            await steps.SayAsync(instance, $"Waiting for Home Assistant at its new address {address}", ct);
            await Task.Delay(Poll, time, ct);
        }
    }

    /// <summary>Records where Home Assistant answers: the site's URL, the instance's address and its app URL.</summary>
    private async Task<Uri> MoveToAsync(InstanceRow instance, string address, int port, CancellationToken ct)
    {
        var url = HomeAssistantClient.SiteUrl(address, port);
        await sites.SetUrlAsync(instance.Id, url.ToString(), ct);
        await instances.SetIpAsync(instance.Id, address, ct);
        await instances.SetAppUrlAsync(instance.Id, url.ToString(), ct);
        return url;
    }

    /// <summary>
    /// The interface to address (Supervisor's <c>/network/info</c>, supervisor/api/network.py): the Ethernet one that
    /// carries <paramref name="currentAddress"/>, else the primary one, else the first Ethernet one.
    /// </summary>
    internal static string? LanInterface(JsonElement network, string currentAddress)
    {
        var ethernet = Interfaces(network).Where(i => Text(i, "type") == "ethernet" && Text(i, "interface") is not null).ToList();
        var carrying = ethernet.FirstOrDefault(i => Ipv4Addresses(i).Any(a => a.Split('/')[0] == currentAddress));
        var primary = ethernet.FirstOrDefault(i => i.TryGetProperty("primary", out var p) && p.ValueKind == JsonValueKind.True);
        var chosen = carrying.ValueKind == JsonValueKind.Object ? carrying : primary.ValueKind == JsonValueKind.Object ? primary : ethernet.FirstOrDefault();
        return chosen.ValueKind == JsonValueKind.Object ? Text(chosen, "interface") : null;
    }

    /// <summary>Whether an Ethernet interface has exactly the plan's static IPv4 settings for <paramref name="address"/>.</summary>
    internal static bool HasStaticAddress(JsonElement network, AddressPlan plan, IPAddress address)
    {
        var dns = plan.DnsServers.Select(d => d.ToString()).Order(StringComparer.Ordinal).ToList();
        return Interfaces(network).Any(i =>
            i.TryGetProperty("ipv4", out var v4) && v4.ValueKind == JsonValueKind.Object
            && Text(v4, "method") == "static"
            && Ipv4Addresses(i).Contains(plan.Cidr(address))
            && Text(v4, "gateway") == plan.Gateway.ToString()
            && v4.TryGetProperty("nameservers", out var servers) && servers.ValueKind == JsonValueKind.Array
            && servers.EnumerateArray().Select(s => s.GetString() ?? "").Order(StringComparer.Ordinal).SequenceEqual(dns));
    }

    /// <summary>The interfaces of Supervisor's <c>/network/info</c> answer; none when it has another shape.</summary>
    private static IEnumerable<JsonElement> Interfaces(JsonElement network) =>
        network.ValueKind == JsonValueKind.Object && network.TryGetProperty("interfaces", out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray()
            : [];

    private static IEnumerable<string> Ipv4Addresses(JsonElement nic) =>
        nic.TryGetProperty("ipv4", out var v4) && v4.ValueKind == JsonValueKind.Object && v4.TryGetProperty("address", out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray().Select(a => a.GetString()).OfType<string>()
            : [];

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>The project's Z-Wave JS and Frigate instances once none is still deploying (or the wait is over); null when this instance left the step.</summary>
    private async Task<IReadOnlyList<InstanceRow>?> WaitForSiblingsAsync(InstanceRow instance, DateTimeOffset deadline, CancellationToken ct)
    {
        while (await StillAsync(instance, ct))
        {
            var siblings = (await instances.ListByProjectAsync(instance.ProjectId, includeDeleted: false, ct))
                .Where(i => i.Type is TemplateTypes.ZwaveJs or TemplateTypes.Frigate).ToList();
            var busy = siblings.Where(i => !i.IsFinished && i.State != InstanceStates.Deleting).ToList();
            if (busy.Count == 0 || time.GetUtcNow() > deadline)
            {
                return siblings;
            }

            await steps.SayAsync(instance, $"Waiting for {string.Join(", ", busy.Select(b => b.Hostname))} to finish before wiring them", ct);
            await Task.Delay(Poll, time, ct);
        }

        return null;
    }

    private async Task<(string Target, Dictionary<string, object?> Values, Func<Uri, string, CancellationToken, Task>? Before)> MqttTargetAsync(InstanceRow instance, SiteSettings settings, CancellationToken ct)
    {
        if (settings.Mqtt is { } external)
        {
            var stored = await mqttCredentials.GetAsync(instance.ProjectId, ct);
            var values = new Dictionary<string, object?> { ["broker"] = external.Host, ["port"] = external.Port };
            if (external.Username is not null)
            {
                values["username"] = external.Username;
                values["password"] = stored?.Username == external.Username ? stored.Password : null;
            }

            return ($"{external.Host}:{external.Port}", values, null);
        }

        // The site's own broker: the Mosquitto add-on of this Home Assistant, with the project's per-site user.
        var credentials = await mqttCredentials.GetOrCreateDefaultAsync(instance.ProjectId, ct);
        return ("core-mosquitto:1883",
            new Dictionary<string, object?> { ["broker"] = "core-mosquitto", ["port"] = 1883, ["username"] = credentials.Username, ["password"] = credentials.Password },
            (url, token, c) => EnsureMosquittoLoginAsync(url, token, credentials, c));
    }

    /// <summary>
    /// The project's MQTT user in the Mosquitto add-on (installed and started when the base lacks it). Its options are
    /// validated as a whole: read them, change <c>logins</c>, write them all back; the add-on reads them when it starts.
    /// </summary>
    private async Task EnsureMosquittoLoginAsync(Uri url, string token, MqttCredentials credentials, CancellationToken ct)
    {
        await using var socket = await HomeAssistantSocket.ConnectAsync(url, token, RequestTimeout, ct);
        var info = await SupervisorAsync(socket, $"/addons/{MosquittoAddon}/info", "get", null, ct);
        if (info.TryGetProperty("version", out var version) && version.ValueKind == JsonValueKind.Null)
        {
            await SupervisorAsync(socket, $"/store/addons/{MosquittoAddon}/install", "post", null, ct);
            info = await SupervisorAsync(socket, $"/addons/{MosquittoAddon}/info", "get", null, ct);
        }

        var addonOptions = JsonNode.Parse(info.GetProperty("options").GetRawText())?.AsObject() ?? [];
        var logins = addonOptions["logins"] as JsonArray ?? [];
        var mine = logins.OfType<JsonObject>().FirstOrDefault(l => l["username"]?.GetValue<string>() == credentials.Username);
        var started = info.TryGetProperty("state", out var state) && state.GetString() == "started";
        if (mine is not null && mine["password"]?.GetValue<string>() == credentials.Password && started)
        {
            return;
        }

        if (mine is not null)
        {
            logins.Remove(mine);
        }

        logins.Add(new JsonObject { ["username"] = credentials.Username, ["password"] = credentials.Password });
        addonOptions["logins"] = logins;
        await SupervisorAsync(socket, $"/addons/{MosquittoAddon}/options", "post", new JsonObject { ["options"] = addonOptions }, ct);
        if (started)
        {
            await SupervisorAsync(socket, $"/addons/{MosquittoAddon}/stop", "post", null, ct);
        }

        await SupervisorAsync(socket, $"/addons/{MosquittoAddon}/start", "post", null, ct);
    }

    private static Task<JsonElement> SupervisorAsync(HomeAssistantSocket socket, string endpoint, string method, JsonObject? data, CancellationToken ct)
    {
        var fields = new JsonObject { ["endpoint"] = endpoint, ["method"] = method };
        if (data is not null)
        {
            fields["data"] = data;
        }

        return socket.CommandAsync("supervisor/api", fields, ct);
    }

    private async Task WireAsync(InstanceRow instance, Uri url, string token, IReadOnlyList<HomeAssistantWiring> wired, string domain, string target, long? source,
        IReadOnlyDictionary<string, object?> values, IReadOnlyList<string> menuChoices, CancellationToken ct, Func<Uri, string, CancellationToken, Task>? before = null)
    {
        var entries = await ha.GetConfigEntriesAsync(url, token, domain, ct);
        var recorded = wired.FirstOrDefault(w => w.Domain == domain && w.Target == target);
        if (recorded is not null && (recorded.EntryId is null ? entries.Count > 0 : entries.Any(e => e.EntryId == recorded.EntryId)))
        {
            return;
        }

        // Wired before at another address (the service moved: a new DHCP lease): its entry follows it.
        var moved = source is null ? null : wired.FirstOrDefault(w => w.Domain == domain && w.SourceInstanceId == source && w.Target != target);
        await steps.SayAsync(instance, moved is null ? $"Wiring {Name(domain)} ({target})" : $"Re-wiring {Name(domain)}: it moved from {moved.Target} to {target}", ct);
        if (before is not null)
        {
            await before(url, token, ct);
        }

        if (moved?.EntryId is { } old && !UpdatesInPlace(domain) && entries.Any(e => e.EntryId == old))
        {
            // Frigate's flow sets no unique id: a flow with the new URL would add a second entry beside the old one. Only
            // the entry the orchestrator recorded goes, never another.
            await ha.DeleteConfigEntryAsync(url, token, old, ct);
            entries = [.. entries.Where(e => e.EntryId != old)];
            logger.LogInformation("Instance {Instance} ({Hostname}): {Domain} entry {Entry} for {Target} deleted, to be set up again at {NewTarget}", instance.Id, instance.Hostname, domain, old, moved.Target, target);
        }

        var entryId = await RunFlowAsync(url, token, domain, values, menuChoices, ct);
        // Aborted as already configured: zwave_js updated the entry of the same home id (the moved one); else the entry
        // that exists is the one (MQTT allows one entry; Frigate's title is the URL without its scheme).
        entryId ??= moved?.EntryId is { } kept && UpdatesInPlace(domain) && entries.Any(e => e.EntryId == kept) ? kept
            : entries.Count == 1 ? entries[0].EntryId
            : entries.FirstOrDefault(e => domain == "frigate" && Uri.TryCreate(target, UriKind.Absolute, out var t) && e.Title == t.Authority)?.EntryId;
        if (moved is not null)
        {
            await sites.MoveWiringAsync(instance.Id, domain, moved.Target, target, entryId, source, ct);
            logger.LogInformation("Instance {Instance} ({Hostname}): {Domain} re-wired from {OldTarget} to {Target}", instance.Id, instance.Hostname, domain, moved.Target, target);
            return;
        }

        await sites.RecordWiringAsync(instance.Id, domain, target, entryId, source, ct);
        logger.LogInformation("Instance {Instance} ({Hostname}): {Domain} wired to {Target}", instance.Id, instance.Hostname, domain, target);
    }

    /// <summary>
    /// Whether a second config flow for the same service updates its entry: zwave_js's manual step sets the unique id
    /// (the controller's home id) and aborts <c>already_configured</c> with the new URL written into the entry
    /// (<c>_abort_if_unique_id_configured(updates=...)</c>). Frigate's user step only refuses the same URL twice.
    /// </summary>
    private static bool UpdatesInPlace(string domain) => domain == "zwave_js";

    /// <summary>
    /// Runs a config flow step by step as Home Assistant presents it: a menu takes the first of <paramref name="menuChoices"/>
    /// it offers, a form gets the values named by its schema (fields without a value keep their defaults; a required field
    /// without either is an error). Returns the new entry's id, or null when Home Assistant says the service is configured already.
    /// </summary>
    internal async Task<string?> RunFlowAsync(Uri url, string token, string domain, IReadOnlyDictionary<string, object?> values, IReadOnlyList<string> menuChoices, CancellationToken ct)
    {
        var step = await ha.StartConfigFlowAsync(url, token, domain, ct);
        for (var n = 0; n < 12; n++)
        {
            switch (step.Type)
            {
                case "create_entry":
                    return step.Result is { ValueKind: JsonValueKind.Object } entry && entry.TryGetProperty("entry_id", out var id) ? id.GetString() : null;
                case "abort" when step.Reason is "already_configured" or "single_instance_allowed":
                    return null;
                case "abort":
                    throw new HomeAssistantException($"Home Assistant stopped setting up {Name(domain)} ({step.Reason}).");
                case "menu":
                    var choice = menuChoices.FirstOrDefault(c => step.MenuOptions?.Contains(c) == true)
                        ?? await AbandonAsync(url, token, step, $"Home Assistant's {Name(domain)} setup offers {string.Join(", ", step.MenuOptions ?? [])} at step {step.StepId}; the orchestrator knows none of them.", ct);
                    step = await ha.ContinueConfigFlowAsync(url, token, step.FlowId!, new Dictionary<string, object?> { ["next_step_id"] = choice }, ct);
                    break;
                case "form":
                    if (step.Errors is { Count: > 0 } errors)
                    {
                        await AbandonAsync(url, token, step, $"Home Assistant refused the {Name(domain)} settings at step {step.StepId}: {string.Join(", ", errors.Select(e => $"{e.Key}: {e.Value}"))}.", ct);
                    }

                    var data = new Dictionary<string, object?>();
                    foreach (var field in step.Fields)
                    {
                        if (values.TryGetValue(field.Name, out var value) && value is not null)
                        {
                            data[field.Name] = value;
                        }
                        else if (field.Required && field.Default is null)
                        {
                            await AbandonAsync(url, token, step, $"Home Assistant's {Name(domain)} setup asks for '{field.Name}' at step {step.StepId}, which the orchestrator does not know.", ct);
                        }
                    }

                    step = await ha.ContinueConfigFlowAsync(url, token, step.FlowId!, data, ct);
                    break;
                default:
                    await AbandonAsync(url, token, step, $"Home Assistant's {Name(domain)} setup needs a person ({step.Type} at step {step.StepId}).", ct);
                    break;
            }
        }

        // Not left half-way in Home Assistant (a retry starts a new flow).
        if (step.FlowId is { } unfinished)
        {
            await ha.AbortConfigFlowAsync(url, token, unfinished, ct);
        }

        throw new HomeAssistantException($"Home Assistant's {Name(domain)} setup did not finish within 12 steps (the last was {step.Type} {step.StepId}); the orchestrator stopped it.");
    }

    private async Task<string> AbandonAsync(Uri url, string token, FlowResult step, string message, CancellationToken ct)
    {
        if (step.FlowId is { } flowId)
        {
            await ha.AbortConfigFlowAsync(url, token, flowId, ct);
        }

        throw new HomeAssistantException(message);
    }

    private static string Name(string domain) => domain switch
    {
        "mqtt" => "MQTT",
        "zwave_js" => "Z-Wave JS",
        "frigate" => "Frigate",
        _ => domain,
    };

    // --- Helpers --------------------------------------------------------------------------------

    private async Task<Uri> UrlAsync(InstanceRow instance, CancellationToken ct) =>
        (await sites.FindAsync(instance.Id, ct))?.Url is { } url
            ? new Uri(url)
            : throw new HomeAssistantException($"Home Assistant's address of instance {instance.Id} is not recorded; retry the instance.");

    private async Task RelocateIfGoneAsync(InstanceRow instance, Uri url, OnboardingStatus status, CancellationToken ct)
    {
        if (status.Phase == OnboardingPhase.NotReady && (status.Detail == "not answering" || status.Detail.StartsWith("HTTP 3", StringComparison.Ordinal)))
        {
            await RelocateAsync(instance, url, ct);
        }
    }

    /// <summary>The live port moved (a restore brings back the base's port, or Core 2026.8 switched to 80): find it again.</summary>
    private async Task RelocateAsync(InstanceRow instance, Uri url, CancellationToken ct)
    {
        if (await ha.FindLivePortAsync(url.Host.Trim('[', ']'), ct) is { } port && port != url.Port)
        {
            var moved = HomeAssistantClient.SiteUrl(url.Host.Trim('[', ']'), port).ToString();
            await sites.SetUrlAsync(instance.Id, moved, ct);
            await instances.SetAppUrlAsync(instance.Id, moved, ct);
        }
    }

    /// <summary>Whether the instance is still in the step this call drives (a delete or another request may have moved it).</summary>
    private async Task<bool> StillAsync(InstanceRow instance, CancellationToken ct) =>
        (await instances.GetAsync(instance.Id, ct))?.State == instance.State;

    /// <summary>The step's deadline: recorded when the step began, so a restart does not extend it.</summary>
    private async Task<DateTimeOffset> DeadlineAsync(InstanceRow instance, double seconds, CancellationToken ct)
    {
        if (instance.DeadlineAt is { } recorded)
        {
            return recorded;
        }

        var deadline = time.GetUtcNow().AddSeconds(seconds);
        await instances.SetDeadlineAsync(instance.Id, deadline, ct);
        return deadline;
    }

    private async Task NextAsync(InstanceRow instance, string state, string message, double deadlineSeconds, CancellationToken ct)
    {
        await instances.SetDeadlineAsync(instance.Id, time.GetUtcNow().AddSeconds(deadlineSeconds), ct);
        await steps.MoveAsync(instance, state, message, ct: ct);
    }

    private async Task FailAsync(InstanceRow instance, string message, string error, CancellationToken ct)
    {
        logger.LogWarning("Instance {Instance} ({Hostname}) failed: {Error}", instance.Id, instance.Hostname, error);
        await instances.SetDeadlineAsync(instance.Id, null, ct);
        await steps.MoveAsync(instance, InstanceStates.Failed, message, error: error, ct: ct);
    }

    private static string Host(string ip) => ip.Contains(':', StringComparison.Ordinal) ? $"[{ip}]" : ip;

    private static string Minutes(double seconds) => seconds >= 120 ? $"{seconds / 60:0.#} min" : $"{seconds:0} s";

    /// <summary>Credentials the orchestrator made for one site; <see cref="Token"/> is the long-lived token of the orchestrator's user.</summary>
    private sealed record SiteCredentials(string Username, string Password, string? Token)
    {
        private bool PrintMembers(System.Text.StringBuilder builder)
        {
            builder.Append($"Username = {Username}");
            return true;
        }
    }
}
