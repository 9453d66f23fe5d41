using System.Text.Json;
using System.Text.Json.Nodes;
using Ctrlable.HaSim.Backups;
using Ctrlable.HaSim.State;

namespace Ctrlable.HaSim.Http;

/// <summary>
/// components/onboarding/views.py and components/backup/onboarding.py: registered only when Core started with a step
/// left (404 otherwise, and they keep answering until the next restart once the last step is done).
/// </summary>
internal sealed class OnboardingApi(HaRuntime ha, Action<RestartRequest> restart)
{
    public const string HassioLocalAgent = "hassio.local";

    public void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/api/onboarding", Steps);
        app.MapGet("/api/onboarding/installation_type", InstallationType);
        app.MapPost("/api/onboarding/users", Users);
        app.MapPost("/api/onboarding/core_config", http => SimpleStep(http, "core_config", "Core config step already done"));
        app.MapPost("/api/onboarding/analytics", http => ha.Options.AnalyticsStep
            ? SimpleStep(http, "analytics", "Analytics config step already done")
            : HaHttp.Text(http, 404));
        app.MapPost("/api/onboarding/integration", Integration);
        app.MapPost("/api/onboarding/integration/wait", Wait);
        app.MapGet("/api/onboarding/backup/info", BackupInfo);
        app.MapPost("/api/onboarding/backup/upload", Upload);
        app.MapPost("/api/onboarding/backup/restore", Restore);
    }

    private bool Registered
    {
        get
        {
            lock (ha.Sync)
            {
                return ha.OnboardingViews;
            }
        }
    }

    private Task Steps(HttpContext http)
    {
        if (!Registered)
        {
            return HaHttp.Text(http, 404);
        }

        lock (ha.Sync)
        {
            return HaHttp.Json(http, new JsonArray([.. ha.Steps.Select(s => (JsonNode)new JsonObject { ["step"] = s, ["done"] = ha.Config.OnboardingDone.Contains(s) })]));
        }
    }

    private Task InstallationType(HttpContext http)
    {
        if (!Registered)
        {
            return HaHttp.Text(http, 404);
        }

        lock (ha.Sync)
        {
            return ha.Config.OnboardingDone.Count > 0
                ? HaHttp.Text(http, 401)
                : HaHttp.Json(http, new JsonObject { ["installation_type"] = "Home Assistant OS" });
        }
    }

    private async Task Users(HttpContext http)
    {
        if (!Registered)
        {
            await HaHttp.Text(http, 404);
            return;
        }

        if (await HaHttp.ReadJsonAsync(http) is not { } body)
        {
            await HaHttp.Message(http, "Invalid JSON.", 400);
            return;
        }

        if (HaHttp.Check(body, [("name", true, JsonValueKind.String), ("username", true, JsonValueKind.String), ("password", true, JsonValueKind.String),
                ("client_id", true, JsonValueKind.String), ("language", true, JsonValueKind.String)]) is { } error)
        {
            await HaHttp.Message(http, $"Message format incorrect: {error}", 400);
            return;
        }

        string? code = null;
        var status = 200;
        lock (ha.Sync)
        {
            if (ha.Config.OnboardingDone.Contains("user"))
            {
                status = 403;
            }
            else
            {
                // async_create_user: the first non-system user becomes the owner, whatever happens next.
                var isOwner = !ha.Config.Users.Any(u => !u.SystemGenerated);
                var user = new HaUser(HaConfig.NewId(), body["name"]!.GetValue<string>(), isOwner, true, false, false, [HaUser.AdminGroup]);
                ha.Config.Users.Add(user);
                var username = body["username"]!.GetValue<string>();
                if (username != username.Trim().ToLowerInvariant() || ha.Config.Passwords.ContainsKey(username))
                {
                    // InvalidUsername / InvalidUser are not handled by the view: a 500, and the user created above stays.
                    status = 500;
                }
                else
                {
                    var credential = new HaCredential(HaConfig.NewId(), user.Id, username);
                    ha.Config.Credentials.Add(credential);
                    ha.Config.Passwords[username] = HaConfig.HashPassword(body["password"]!.GetValue<string>(), ha.Options.BcryptWorkFactor);
                    ha.Config.OnboardingDone.Add("user");
                    code = Tokens.CreateAuthCode(ha, body["client_id"]!.GetValue<string>(), user, credential.Id);
                }
            }
        }

        await (status switch
        {
            403 => HaHttp.Message(http, "User step already done", 403),
            500 => HaHttp.Text(http, 500, "500 Internal Server Error\n\nServer got itself in trouble"),
            _ => HaHttp.Json(http, new JsonObject { ["auth_code"] = code }),
        });
    }

    private Task SimpleStep(HttpContext http, string step, string doneMessage)
    {
        if (!Registered)
        {
            return HaHttp.Text(http, 404);
        }

        if (HaHttp.Principal(http) is null)
        {
            return HaHttp.Text(http, 401);
        }

        lock (ha.Sync)
        {
            if (ha.Config.OnboardingDone.Contains(step))
            {
                return HaHttp.Message(http, doneMessage, 403);
            }

            ha.Config.OnboardingDone.Add(step);
        }

        return HaHttp.Json(http, new JsonObject());
    }

    private async Task Integration(HttpContext http)
    {
        if (!Registered)
        {
            await HaHttp.Text(http, 404);
            return;
        }

        if (HaHttp.Principal(http) is not { } principal)
        {
            await HaHttp.Text(http, 401);
            return;
        }

        if (await HaHttp.ReadJsonAsync(http) is not { } body)
        {
            await HaHttp.Message(http, "Invalid JSON.", 400);
            return;
        }

        if (HaHttp.Check(body, [("client_id", true, JsonValueKind.String), ("redirect_uri", true, JsonValueKind.String)]) is { } error)
        {
            await HaHttp.Message(http, $"Message format incorrect: {error}", 400);
            return;
        }

        string code;
        lock (ha.Sync)
        {
            if (ha.Config.OnboardingDone.Contains("integration"))
            {
                code = "";
            }
            else
            {
                // Marked done before the redirect URI is checked (a trap noted in haos.md).
                ha.Config.OnboardingDone.Add("integration");
                var clientId = body["client_id"]!.GetValue<string>();
                code = HaHttp.ValidRedirect(clientId, body["redirect_uri"]!.GetValue<string>())
                    ? Tokens.CreateAuthCode(ha, clientId, principal.User, principal.RefreshToken.CredentialId)
                    : "invalid";
            }
        }

        await (code switch
        {
            "" => HaHttp.Message(http, "Integration step already done", 403),
            "invalid" => HaHttp.Message(http, "invalid client id or redirect uri", 400),
            _ => HaHttp.Json(http, new JsonObject { ["auth_code"] = code }),
        });
    }

    private async Task Wait(HttpContext http)
    {
        if (!Registered)
        {
            await HaHttp.Text(http, 404);
            return;
        }

        if (await HaHttp.ReadJsonAsync(http) is not { } body || HaHttp.Check(body, [("domain", true, JsonValueKind.String)]) is not null)
        {
            await HaHttp.Message(http, "Message format incorrect: required key not provided @ data['domain']", 400);
            return;
        }

        bool loaded;
        lock (ha.Sync)
        {
            loaded = body["domain"]!.GetValue<string>() != "backup" || ha.BackupLoaded;
        }

        await HaHttp.Json(http, new JsonObject { ["integration_loaded"] = loaded });
    }

    /// <summary>with_backup_manager: 404 until the backup integration has loaded; 401 once any step is done.</summary>
    private Task? BackupGate(HttpContext http)
    {
        lock (ha.Sync)
        {
            if (!ha.OnboardingViews || !ha.BackupLoaded)
            {
                return HaHttp.Text(http, 404);
            }

            return ha.Config.OnboardingDone.Count > 0 ? HaHttp.Text(http, 401) : null;
        }
    }

    private Task BackupInfo(HttpContext http)
    {
        if (BackupGate(http) is { } refused)
        {
            return refused;
        }

        lock (ha.Sync)
        {
            return HaHttp.Json(http, new JsonObject
            {
                ["backups"] = new JsonArray([.. ha.Backups.Values.Select(b => (JsonNode)ManagerBackup(b))]),
                ["state"] = ha.ManagerState,
                ["last_action_event"] = ha.LastActionEvent?.DeepClone(),
            });
        }
    }

    private async Task Upload(HttpContext http)
    {
        if (BackupGate(http) is { } refused)
        {
            await refused;
            return;
        }

        if (!http.Request.Query.TryGetValue("agent_id", out var agents) || agents.Count == 0)
        {
            await HaHttp.Empty(http, 400);
            return;
        }

        if (agents.Any(a => a != HassioLocalAgent))
        {
            await HaHttp.Text(http, 500, "Can't upload backup file: Invalid agents selected: " + string.Join(", ", agents.Where(a => a != HassioLocalAgent)));
            return;
        }

        byte[] tar;
        try
        {
            var form = await http.Request.ReadFormAsync(http.RequestAborted);
            var file = form.Files.FirstOrDefault();
            if (file is null)
            {
                await HaHttp.Text(http, 500, "Can't upload backup file: no file in the request");
                return;
            }

            using var buffer = new MemoryStream();
            await file.CopyToAsync(buffer, http.RequestAborted);
            tar = buffer.ToArray();
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or InvalidDataException)
        {
            await HaHttp.Text(http, 500, "Can't upload backup file: " + e.Message);
            return;
        }

        JsonObject metadata;
        try
        {
            metadata = HaBackup.ReadMetadata(tar);
        }
        catch (InvalidDataException e)
        {
            // Supervisor refuses a file that is not a backup; Core reports the upload as failed.
            await HaHttp.Text(http, 500, "Can't upload backup file: " + e.Message);
            return;
        }

        var slug = metadata["slug"]?.GetValue<string>() ?? "";
        lock (ha.Sync)
        {
            ha.Backups[slug] = new StoredBackup(slug, metadata, tar, ha.Now);
        }

        await HaHttp.Json(http, new JsonObject { ["backup_id"] = slug }, 201);
    }

    private async Task Restore(HttpContext http)
    {
        if (await HaHttp.ReadJsonAsync(http) is not { } body)
        {
            await HaHttp.Message(http, "Invalid JSON.", 400);
            return;
        }

        if (HaHttp.Check(body, [("backup_id", true, JsonValueKind.String), ("agent_id", true, JsonValueKind.String), ("password", false, JsonValueKind.String),
                ("restore_addons", false, JsonValueKind.Array), ("restore_database", false, JsonValueKind.True), ("restore_folders", false, JsonValueKind.Array)]) is { } error)
        {
            await HaHttp.Message(http, $"Message format incorrect: {error}", 400);
            return;
        }

        if (BackupGate(http) is { } refused)
        {
            await refused;
            return;
        }

        var backupId = body["backup_id"]!.GetValue<string>();
        var agentId = body["agent_id"]!.GetValue<string>();
        var password = body["password"]?.GetValue<string>();
        var restoreDatabase = body["restore_database"]?.GetValue<bool>() ?? true;
        StoredBackup? stored;
        lock (ha.Sync)
        {
            stored = ha.Backups.GetValueOrDefault(backupId);
        }

        if (agentId != HassioLocalAgent)
        {
            await Failed(http, $"Invalid agent selected: {agentId}");
            return;
        }

        if (stored is null)
        {
            await Failed(http, $"Backup {backupId} not found");
            return;
        }

        HaBackup backup;
        try
        {
            backup = HaBackup.Read(stored.Tar, password);
        }
        catch (HaBackupPasswordException)
        {
            await HaHttp.Json(http, new JsonObject { ["code"] = "incorrect_password" }, 400);
            return;
        }
        catch (InvalidDataException e)
        {
            await Failed(http, $"Restore failed: {e.Message}");
            return;
        }

        if (restoreDatabase != backup.DatabaseIncluded)
        {
            await Failed(http, "Restore database must match backup");
            return;
        }

        lock (ha.Sync)
        {
            ha.ManagerState = "restore_backup";
            ha.LastActionEvent = new JsonObject { ["manager_state"] = "restore_backup", ["reason"] = null, ["stage"] = null, ["state"] = "in_progress" };
        }

        TimeSpan landing;
        lock (ha.Sync)
        {
            landing = ha.NextRestoreLanding ?? ha.Options.LandingAfterRestore;
            ha.NextRestoreLanding = null;
        }

        restart(new RestartRequest(ha.Options.RestoreStopDelay, ha.Options.RestoreDownTime, landing, () =>
        {
            // Supervisor, with Core stopped: wipe /config and unpack the backup (or fail and start the old Core again).
            if (ha.FailNextRestore is { } reason)
            {
                ha.FailNextRestore = null;
                ha.PendingRestoreEvent = new JsonObject { ["manager_state"] = "restore_backup", ["reason"] = reason, ["stage"] = null, ["state"] = "failed" };
                return;
            }

            ha.Restore(backup);
            ha.PendingRestoreEvent = new JsonObject { ["manager_state"] = "restore_backup", ["reason"] = null, ["stage"] = null, ["state"] = "completed" };
        }));
        await HaHttp.Empty(http, 200);
    }

    private static Task Failed(HttpContext http, string message) =>
        HaHttp.Json(http, new JsonObject { ["code"] = "restore_failed", ["message"] = message }, 400);

    private static JsonObject ManagerBackup(StoredBackup b)
    {
        var m = b.Metadata;
        return new JsonObject
        {
            ["addons"] = new JsonArray([.. (m["addons"]?.AsArray() ?? []).Select(a => (JsonNode)new JsonObject
            {
                ["name"] = a?["name"]?.DeepClone(),
                ["slug"] = a?["slug"]?.DeepClone(),
                ["version"] = a?["version"]?.DeepClone(),
            })]),
            ["agents"] = new JsonObject
            {
                [HassioLocalAgent] = new JsonObject { ["protected"] = m["protected"]?.GetValue<bool>() ?? false, ["size"] = b.Tar.Length },
            },
            ["backup_id"] = b.Slug,
            ["database_included"] = !(m["homeassistant"]?["exclude_database"]?.GetValue<bool>() ?? false),
            ["date"] = m["date"]?.DeepClone(),
            ["extra_metadata"] = m["extra"]?.DeepClone() ?? new JsonObject(),
            ["failed_agent_ids"] = new JsonArray(),
            ["folders"] = m["folders"]?.DeepClone() ?? new JsonArray(),
            ["homeassistant_included"] = m["homeassistant"] is not null,
            ["homeassistant_version"] = m["homeassistant"]?["version"]?.DeepClone(),
            ["name"] = m["name"]?.DeepClone(),
            ["with_automatic_settings"] = false,
        };
    }
}

/// <summary>A Core stop: after <paramref name="StopAfter"/>, down for <paramref name="Down"/>, <paramref name="ApplyWhileDown"/> runs under the lock, then the landing page for <paramref name="Landing"/>.</summary>
internal sealed record RestartRequest(TimeSpan StopAfter, TimeSpan Down, TimeSpan Landing, Action? ApplyWhileDown)
{
    /// <summary>Stop and stay down until powered on again.</summary>
    public bool PowerOff { get; init; }

    /// <summary>Not a restart: Core keeps running and listens on this new address from now on.</summary>
    public System.Net.IPAddress? Rebind { get; init; }

    public TaskCompletionSource? Done { get; init; }
}
