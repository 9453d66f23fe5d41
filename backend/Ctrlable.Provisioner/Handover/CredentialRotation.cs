using System.Text.Json.Nodes;
using Ctrlable.Provisioner.HomeAssistant;
using Ctrlable.Provisioner.HomeAssistant.Setup;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.Secrets;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Handover;

/// <summary>A rotation that did not happen: the old value stays in place and still works.</summary>
public sealed class RotationException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Rotates the credentials the orchestrator can change where they are used, the way the deploy set them: Home
/// Assistant's owner password and the orchestrator's account password (signed in as that user, its own password changed
/// over the WebSocket API) and the orchestrator's long-lived token (a new one made, checked, stored, then the old one
/// deleted in Home Assistant). The new value is kept as <c>…/pending</c> before it is pushed and becomes the stored one
/// only once Home Assistant took it; a failure before that leaves the old one stored and working. A rotation cut short
/// after Home Assistant took the new password (the orchestrator stopped) is finished by the next rotation, which finds
/// out which of the two Home Assistant accepts.
/// </summary>
public sealed class CredentialRotation(SecretStore secrets, HomeAssistantClient ha, IOptions<HomeAssistantOptions> options, TimeProvider time, ILogger<CredentialRotation> logger)
{
    // One rotation at a time: two at once on one credential would each push a value and store only one.
    private readonly SemaphoreSlim _gate = new(1, 1);

    private TimeSpan Timeout => TimeSpan.FromSeconds(options.Value.RequestTimeoutSeconds);

    public static string PendingName(string secretName) => $"{secretName}/pending";

    internal async Task RotateAsync(CredentialEntry entry, CancellationToken ct)
    {
        var credential = entry.Credential;
        if (!credential.Rotatable || entry.Instance?.AppUrl is not { } appUrl)
        {
            throw new InvalidOperationException($"{credential.Id} cannot be rotated: {credential.NotRotatableReason}");
        }

        await _gate.WaitAsync(ct);
        try
        {
            var url = new Uri(appUrl);
            switch (credential.Kind)
            {
                case CredentialKind.HomeAssistantOwner or CredentialKind.HomeAssistantOrchestrator:
                    await RotatePasswordAsync(entry, url, ct);
                    break;
                case CredentialKind.HomeAssistantToken:
                    await RotateTokenAsync(entry, url, ct);
                    break;
                default:
                    throw new InvalidOperationException($"{credential.Kind} has no rotation.");
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    // --- Passwords ------------------------------------------------------------------------------

    private async Task RotatePasswordAsync(CredentialEntry entry, Uri url, CancellationToken ct)
    {
        var stored = await StoredAsync(entry, ct);
        var username = stored["username"]?.GetValue<string>() ?? throw new RotationException("The stored credential has no user name.");
        var current = stored["password"]?.GetValue<string>() ?? throw new RotationException("The stored credential has no password.");
        var pendingName = PendingName(entry.SecretName);

        // An earlier rotation cut short may have changed the password in Home Assistant without storing it.
        var session = await SignInAsync(url, username, current, await secrets.GetAsync(entry.SecretKind, pendingName, ct), async promoted =>
        {
            stored["password"] = promoted;
            await secrets.SetAsync(entry.SecretKind, entry.SecretName, stored.ToJsonString(), ct);
            current = promoted;
            logger.LogInformation("Credential {Credential}: the password of an interrupted rotation was in use; it is now the stored one", entry.Credential.Id);
        }, ct);

        var next = GeneratedSecrets.Password(32);
        await secrets.SetAsync(entry.SecretKind, pendingName, next, ct);
        try
        {
            await using var socket = await HomeAssistantSocket.ConnectAsync(url, session.AccessToken, Timeout, ct);
            await socket.ChangePasswordAsync(current, next, ct);
        }
        catch (HomeAssistantException ex)
        {
            // The connection may have dropped after Home Assistant changed it: ask Home Assistant which one it takes.
            if (!ex.IsTransient || !await AcceptsAsync(url, username, next, ct))
            {
                await secrets.DeleteAsync(entry.SecretKind, pendingName, ct);
                throw new RotationException($"Home Assistant at {url.Authority} did not change the password of '{username}' ({ex.Message}). The old password stays in place and still works.", ex);
            }
        }

        stored["password"] = next;
        await secrets.SetAsync(entry.SecretKind, entry.SecretName, stored.ToJsonString(), ct);
        await secrets.DeleteAsync(entry.SecretKind, pendingName, ct);
        await DropSessionAsync(url, session, ct);
        logger.LogInformation("Credential {Credential}: Home Assistant user {Username} has a new password", entry.Credential.Id, username);
    }

    /// <summary>Signs in with the stored password; when Home Assistant refuses it and an interrupted rotation left a pending one, with that (then stored).</summary>
    private async Task<HomeAssistantTokens> SignInAsync(Uri url, string username, string current, string? pending, Func<string, Task> promote, CancellationToken ct)
    {
        try
        {
            return await ha.SignInAsync(url, username, current, ct);
        }
        catch (HomeAssistantException ex) when (ex.Code == "invalid_auth" && pending is not null)
        {
            try
            {
                var session = await ha.SignInAsync(url, username, pending, ct);
                await promote(pending);
                return session;
            }
            catch (HomeAssistantException again) when (again.Code == "invalid_auth")
            {
                throw new RotationException($"Home Assistant refused the stored password of '{username}': it was changed outside the orchestrator. Nothing was changed.", again);
            }
        }
        catch (HomeAssistantException ex)
        {
            throw new RotationException(ex.Code == "invalid_auth"
                ? $"Home Assistant refused the stored password of '{username}': it was changed outside the orchestrator. Nothing was changed."
                : $"Home Assistant at {url.Authority} could not be signed in to ({ex.Message}). Nothing was changed; the old password stays in place.", ex);
        }
    }

    private async Task<bool> AcceptsAsync(Uri url, string username, string password, CancellationToken ct)
    {
        try
        {
            await DropSessionAsync(url, await ha.SignInAsync(url, username, password, ct), ct);
            return true;
        }
        catch (HomeAssistantException)
        {
            return false;
        }
    }

    // --- The long-lived token -------------------------------------------------------------------

    private async Task RotateTokenAsync(CredentialEntry entry, Uri url, CancellationToken ct)
    {
        var stored = await StoredAsync(entry, ct);
        var old = stored["token"]?.GetValue<string>() ?? throw new RotationException("The stored credential has no token.");
        string next;
        try
        {
            await using var socket = await HomeAssistantSocket.ConnectAsync(url, old, Timeout, ct);
            // Home Assistant refuses a second long-lived token of one user with the same client name.
            var clientName = $"{HomeAssistantSetup.TokenClientName} (rotated {time.GetUtcNow():yyyy-MM-dd HH:mm:ss} UTC)";
            next = await socket.CreateLongLivedTokenAsync(clientName, HomeAssistantSetup.TokenLifespanDays, ct);
        }
        catch (HomeAssistantException ex)
        {
            throw new RotationException($"Home Assistant at {url.Authority} did not issue a new token ({ex.Message}). The old token stays in place and still works.", ex);
        }

        // Checked before it replaces the old one, which is deleted last: the orchestrator is never left without a working token.
        try
        {
            await using var check = await HomeAssistantSocket.ConnectAsync(url, next, Timeout, ct);
            stored["token"] = next;
            await secrets.SetAsync(entry.SecretKind, entry.SecretName, stored.ToJsonString(), ct);
            var keep = HomeAssistantTokens.IssuerOf(next);
            var oldId = HomeAssistantTokens.IssuerOf(old);
            foreach (var token in (await check.ListRefreshTokensAsync(ct)).Where(t => t.Id != keep && (t.Id == oldId || (oldId is null && t.Type == "long_lived_access_token" && t.ClientName?.StartsWith(HomeAssistantSetup.TokenClientName, StringComparison.Ordinal) == true))))
            {
                await check.DeleteRefreshTokenAsync(token.Id, ct);
            }
        }
        catch (HomeAssistantException ex)
        {
            var storedNow = (await StoredAsync(entry, ct))["token"]?.GetValue<string>();
            throw new RotationException(storedNow == next
                ? $"The new token works and is stored, but Home Assistant at {url.Authority} did not delete the old one ({ex.Message}): rotate again to remove it."
                : $"Home Assistant's new token did not work ({ex.Message}). The old token stays in place and still works.", ex);
        }

        logger.LogInformation("Credential {Credential}: a new long-lived token replaced the old one", entry.Credential.Id);
    }

    // --- Helpers --------------------------------------------------------------------------------

    private async Task<JsonObject> StoredAsync(CredentialEntry entry, CancellationToken ct) =>
        await secrets.GetAsync(entry.SecretKind, entry.SecretName, ct) is { } json && JsonNode.Parse(json) is JsonObject stored
            ? stored
            : throw new RotationException("The credential is no longer stored.");

    /// <summary>Removes the refresh token behind a sign-in the rotation no longer needs (best effort: it expires anyway).</summary>
    private async Task DropSessionAsync(Uri url, HomeAssistantTokens session, CancellationToken ct)
    {
        if (session.RefreshTokenId is not { } id)
        {
            return;
        }

        try
        {
            await using var socket = await HomeAssistantSocket.ConnectAsync(url, session.AccessToken, Timeout, ct);
            await socket.DeleteRefreshTokenAsync(id, ct);
        }
        catch (HomeAssistantException)
        {
            // Deleting the token a connection runs on may end that connection first; gone either way.
        }
    }
}
