using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Authentication;
using System.Text.Json;

namespace Ctrlable.Provisioner.Proxmox;

/// <summary>
/// The Proxmox VE calls the product makes, and nothing else. A singleton over the named IHttpClientFactory
/// client <see cref="HttpClientName"/>, whose resilience pipeline (timeouts, retries for GETs and lock
/// contention) is configured in <see cref="ProxmoxHttp"/>. Bodies are form-encoded with a
/// Content-Length: Proxmox refuses chunked bodies.
/// </summary>
public sealed class ProxmoxClient(IHttpClientFactory httpClients, ProxmoxConnections connections, CertificatePin pin)
{
    public const string HttpClientName = "proxmox";

    // --- Reads --------------------------------------------------------------------------------

    public Task<PveVersionInfo> GetVersionAsync(CancellationToken ct) =>
        GetAsync<PveVersionInfo>("version", ct);

    /// <summary>The caller's privileges on one ACL path (GET /access/permissions?path=...): privilege name → propagate flag.</summary>
    public async Task<IReadOnlySet<string>> GetPermissionsAsync(string path, CancellationToken ct)
    {
        var byPath = await GetAsync<Dictionary<string, Dictionary<string, JsonElement>>>($"access/permissions?path={Uri.EscapeDataString(path)}", ct);
        return byPath.TryGetValue(path, out var privileges) ? privileges.Keys.ToHashSet(StringComparer.Ordinal) : new HashSet<string>();
    }

    public Task<IReadOnlyList<NodeSummary>> GetNodesAsync(CancellationToken ct) =>
        GetAsync<IReadOnlyList<NodeSummary>>("nodes", ct);

    public Task<NodeStatus> GetNodeStatusAsync(string node, CancellationToken ct) =>
        GetAsync<NodeStatus>($"nodes/{Seg(node)}/status", ct);

    /// <summary>One call for the whole cluster: guests, nodes and storages with the node each lives on.</summary>
    public Task<IReadOnlyList<ClusterResource>> GetClusterResourcesAsync(string? type, CancellationToken ct) =>
        GetAsync<IReadOnlyList<ClusterResource>>(type is null ? "cluster/resources" : $"cluster/resources?type={Uri.EscapeDataString(type)}", ct);

    public Task<IReadOnlyList<StorageStatus>> GetStoragesAsync(string node, CancellationToken ct) =>
        GetAsync<IReadOnlyList<StorageStatus>>($"nodes/{Seg(node)}/storage", ct);

    public Task<IReadOnlyList<RrdPoint>> GetNodeRrdAsync(string node, RrdTimeframe timeframe, CancellationToken ct) =>
        GetAsync<IReadOnlyList<RrdPoint>>($"nodes/{Seg(node)}/rrddata?timeframe={Timeframe(timeframe)}&cf=AVERAGE", ct);

    public Task<IReadOnlyList<RrdPoint>> GetGuestRrdAsync(string node, GuestKind kind, int vmid, RrdTimeframe timeframe, CancellationToken ct) =>
        GetAsync<IReadOnlyList<RrdPoint>>($"{GuestPath(node, kind, vmid)}/rrddata?timeframe={Timeframe(timeframe)}&cf=AVERAGE", ct);

    public Task<GuestStatus> GetGuestStatusAsync(string node, GuestKind kind, int vmid, CancellationToken ct) =>
        GetAsync<GuestStatus>($"{GuestPath(node, kind, vmid)}/status/current", ct);

    public async Task<IReadOnlyDictionary<string, string>> GetGuestConfigAsync(string node, GuestKind kind, int vmid, CancellationToken ct)
    {
        var raw = await GetAsync<Dictionary<string, JsonElement>>($"{GuestPath(node, kind, vmid)}/config", ct);
        return raw.ToDictionary(kv => kv.Key, kv => kv.Value.ValueKind == JsonValueKind.String ? kv.Value.GetString()! : kv.Value.GetRawText());
    }

    /// <summary>Lowest free VMID (Proxmox answers with a string).</summary>
    public async Task<int> GetNextIdAsync(CancellationToken ct) =>
        int.Parse(await GetAsync<string>("cluster/nextid", ct), CultureInfo.InvariantCulture);

    /// <summary>True when <paramref name="vmid"/> is free cluster-wide. Proxmox answers 400 "VM N already exists" otherwise.</summary>
    public async Task<bool> IsVmidFreeAsync(int vmid, CancellationToken ct)
    {
        try
        {
            await GetAsync<string>($"cluster/nextid?vmid={vmid}", ct);
            return true;
        }
        catch (ProxmoxException ex) when (ex.Status == HttpStatusCode.BadRequest && ex.IsAlreadyExists)
        {
            return false;
        }
    }

    /// <summary>Network interfaces a running guest reports: LXC from the host, QEMU through the guest agent. Null when stopped.</summary>
    public async Task<IReadOnlyList<GuestInterface>?> GetGuestInterfacesAsync(string node, GuestKind kind, int vmid, CancellationToken ct) =>
        kind == GuestKind.Lxc
            ? await GetAsync<IReadOnlyList<GuestInterface>?>($"{GuestPath(node, kind, vmid)}/interfaces", ct)
            : (await GetAsync<QemuAgentResult<IReadOnlyList<GuestInterface>>>($"{GuestPath(node, kind, vmid)}/agent/network-get-interfaces", ct)).Result;

    /// <summary>
    /// The backups on a storage (<c>content=backup</c>), of one guest when <paramref name="vmid"/> is given. Proxmox lists
    /// those the caller may access (Datastore.Audit/AllocateSpace on the storage; a backup also VM.Backup on its guest).
    /// </summary>
    public Task<IReadOnlyList<StorageContent>> GetBackupsAsync(string node, string storage, int? vmid, CancellationToken ct) =>
        GetAsync<IReadOnlyList<StorageContent>>($"nodes/{Seg(node)}/storage/{Seg(storage)}/content?content=backup{(vmid is { } v ? "&vmid=" + v.ToString(CultureInfo.InvariantCulture) : "")}", ct);

    public Task<TaskStatus> GetTaskStatusAsync(string node, string upid, CancellationToken ct) =>
        GetAsync<TaskStatus>($"nodes/{Seg(node)}/tasks/{Seg(upid)}/status", ct);

    /// <summary>
    /// The guest's tasks still running on the node (<c>GET /nodes/{n}/tasks?vmid=&amp;source=active</c>): the caller's own,
    /// and every user's where it has Sys.Audit on the node. Task ids are VMIDs; a clone's is its source's (the template).
    /// </summary>
    public async Task<IReadOnlyList<TaskListEntry>> GetRunningTasksAsync(string node, int vmid, CancellationToken ct) =>
        [.. (await GetAsync<IReadOnlyList<TaskListEntry>>($"nodes/{Seg(node)}/tasks?vmid={vmid.ToString(CultureInfo.InvariantCulture)}&source=active", ct)).Where(t => t.IsRunning)];

    /// <summary>
    /// The node's tasks started at or after <paramref name="since"/> (Unix seconds), running and ended
    /// (<c>GET /nodes/{n}/tasks?source=all&amp;since=</c>), every type and user it may see: its own, and every user's where
    /// it has Sys.Audit on the node. Running ones have no end time; ended ones (archived or not yet) their end time and
    /// exit status, so one list says for every task waited on whether and how it ended. The limit is far above what a
    /// node starts in a deploy's time (default 50).
    /// </summary>
    public Task<IReadOnlyList<TaskListEntry>> GetTasksSinceAsync(string node, long since, CancellationToken ct) =>
        GetAsync<IReadOnlyList<TaskListEntry>>($"nodes/{Seg(node)}/tasks?source=all&since={since.ToString(CultureInfo.InvariantCulture)}&limit=1000", ct);

    public Task<IReadOnlyList<TaskLogLine>> GetTaskLogAsync(string node, string upid, int start, int limit, CancellationToken ct) =>
        GetAsync<IReadOnlyList<TaskLogLine>>($"nodes/{Seg(node)}/tasks/{Seg(upid)}/log?start={start}&limit={limit}", ct);

    // --- Changes ------------------------------------------------------------------------------

    /// <summary>Starts a clone task; returns its UPID. Never retried blindly: a lost answer may still have cloned.</summary>
    public Task<string> CloneAsync(string node, GuestKind kind, int templateVmid, CloneRequest request, CancellationToken ct)
    {
        var form = new List<KeyValuePair<string, string>>
        {
            new("newid", request.NewId.ToString(CultureInfo.InvariantCulture)),
            new(kind == GuestKind.Lxc ? "hostname" : "name", request.Name),
        };
        AddIf(form, "description", request.Description);
        AddIf(form, "pool", request.Pool);
        AddIf(form, "full", request.Full is { } full ? (full ? "1" : "0") : null);
        AddIf(form, "storage", request.Storage);
        AddIf(form, "target", request.Target);
        return SendAsync<string>(HttpMethod.Post, $"{GuestPath(node, kind, templateVmid)}/clone", form, ct);
    }

    /// <summary>Synchronous config change (PUT; LXC has no POST config). <paramref name="delete"/> removes keys.</summary>
    public async Task UpdateConfigAsync(string node, GuestKind kind, int vmid, IReadOnlyDictionary<string, string> settings, IReadOnlyList<string>? delete, string? digest, CancellationToken ct)
    {
        var form = settings.Select(kv => new KeyValuePair<string, string>(kv.Key, kv.Value)).ToList();
        if (delete is { Count: > 0 })
        {
            form.Add(new("delete", string.Join(',', delete)));
        }

        AddIf(form, "digest", digest);
        await SendAsync<JsonElement?>(HttpMethod.Put, $"{GuestPath(node, kind, vmid)}/config", form, ct);
    }

    public Task<string> StartAsync(string node, GuestKind kind, int vmid, CancellationToken ct) => PowerAsync(node, kind, vmid, "start", [], ct);

    public Task<string> StopAsync(string node, GuestKind kind, int vmid, CancellationToken ct) => PowerAsync(node, kind, vmid, "stop", [], ct);

    public Task<string> ShutdownAsync(string node, GuestKind kind, int vmid, int timeoutSeconds, CancellationToken ct) =>
        PowerAsync(node, kind, vmid, "shutdown", [new("timeout", timeoutSeconds.ToString(CultureInfo.InvariantCulture)), new("forceStop", "1")], ct);

    public Task<string> RebootAsync(string node, GuestKind kind, int vmid, CancellationToken ct) => PowerAsync(node, kind, vmid, "reboot", [], ct);

    /// <summary>
    /// Destroys a stopped guest with the disks its config holds (drives and unusedN) and removes it from jobs (purge).
    /// Never <c>destroy-unreferenced-disks</c>: it frees every volume named after the VMID on every storage, volumes
    /// the guest's config does not hold and the orchestrator cannot prove it made (an admin's leftover or pvesm alloc).
    /// </summary>
    public Task<string> DeleteAsync(string node, GuestKind kind, int vmid, CancellationToken ct) =>
        SendAsync<string>(HttpMethod.Delete, $"{GuestPath(node, kind, vmid)}?purge=1", null, ct);

    // --- Snapshots (VM.Snapshot; rollback: VM.Snapshot or VM.Snapshot.Rollback; listing: VM.Audit) ---------------------

    /// <summary>The guest's snapshots and the "current" entry Proxmox appends (its <c>parent</c> is the last snapshot taken or rolled back to).</summary>
    public Task<IReadOnlyList<GuestSnapshot>> ListSnapshotsAsync(string node, GuestKind kind, int vmid, CancellationToken ct) =>
        GetAsync<IReadOnlyList<GuestSnapshot>>($"{GuestPath(node, kind, vmid)}/snapshot", ct);

    /// <summary>Starts a snapshot task (vzsnapshot/qmsnapshot; without the VM's RAM); returns its UPID.</summary>
    public Task<string> CreateSnapshotAsync(string node, GuestKind kind, int vmid, string name, string description, CancellationToken ct) =>
        SendAsync<string>(HttpMethod.Post, $"{GuestPath(node, kind, vmid)}/snapshot", [new("snapname", name), new("description", description)], ct);

    /// <summary>Starts a rollback task (vzrollback/qmrollback): Proxmox stops a running guest first and leaves it stopped.</summary>
    public Task<string> RollbackSnapshotAsync(string node, GuestKind kind, int vmid, string name, CancellationToken ct) =>
        SendAsync<string>(HttpMethod.Post, $"{GuestPath(node, kind, vmid)}/snapshot/{Seg(name)}/rollback", [], ct);

    /// <summary>Starts a snapshot delete task (vzdelsnapshot/qmdelsnapshot).</summary>
    public Task<string> DeleteSnapshotAsync(string node, GuestKind kind, int vmid, string name, CancellationToken ct) =>
        SendAsync<string>(HttpMethod.Delete, $"{GuestPath(node, kind, vmid)}/snapshot/{Seg(name)}", null, ct);

    /// <summary>
    /// Starts a vzdump task backing up <paramref name="vmids"/> (guests on <paramref name="node"/>) onto
    /// <paramref name="storage"/> in snapshot mode (the guests keep running); <paramref name="notesTemplate"/> becomes
    /// each archive's notes. No prune-backups: retention is the orchestrator's own (it removes only its own archives).
    /// Never retried blindly: a lost answer may still have started the backup.
    /// </summary>
    public Task<string> VzdumpAsync(string node, IReadOnlyList<int> vmids, string storage, string notesTemplate, CancellationToken ct) =>
        SendAsync<string>(HttpMethod.Post, $"nodes/{Seg(node)}/vzdump",
        [
            new("vmid", string.Join(',', vmids.Select(v => v.ToString(CultureInfo.InvariantCulture)))),
            new("storage", storage),
            new("mode", "snapshot"),
            new("notes-template", notesTemplate),
        ], ct);

    /// <summary>Removes a volume (a backup archive): answers the UPID of its task, or null when it finished at once.</summary>
    public Task<string?> DeleteVolumeAsync(string node, string storage, string volid, CancellationToken ct) =>
        SendAsync<string?>(HttpMethod.Delete, $"nodes/{Seg(node)}/storage/{Seg(storage)}/content/{Seg(volid)}", null, ct);

    /// <summary>
    /// Restores a backup archive into a NEW guest <paramref name="newVmid"/> (never over an existing one: no force):
    /// QEMU <c>POST /nodes/{n}/qemu archive=</c>, LXC <c>POST /nodes/{n}/lxc ostemplate= restore=1</c>, both with
    /// <c>unique=1</c> (new MAC addresses), into <paramref name="pool"/> with the disks on <paramref name="storage"/>.
    /// </summary>
    public Task<string> RestoreAsync(string node, GuestKind kind, int newVmid, string volid, string? storage, string? pool, CancellationToken ct)
    {
        var form = new List<KeyValuePair<string, string>>
        {
            new("vmid", newVmid.ToString(CultureInfo.InvariantCulture)),
            new(kind == GuestKind.Lxc ? "ostemplate" : "archive", volid),
            new("unique", "1"),
        };
        if (kind == GuestKind.Lxc)
        {
            form.Add(new("restore", "1"));
        }

        AddIf(form, "storage", storage);
        AddIf(form, "pool", pool);
        return SendAsync<string>(HttpMethod.Post, $"nodes/{Seg(node)}/{(kind == GuestKind.Lxc ? "lxc" : "qemu")}", form, ct);
    }

    /// <summary>
    /// Destroys a template the orchestrator proved its own. <c>purge=1</c>: its VMID leaves backup and replication jobs
    /// (a job left naming it would act on whatever guest gets the VMID next). Never <c>destroy-unreferenced-disks</c>:
    /// that frees every volume named after the VMID on every storage, volumes the template's config does not hold.
    /// </summary>
    public Task<string> DestroyTemplateAsync(string node, GuestKind kind, int vmid, CancellationToken ct) =>
        SendAsync<string>(HttpMethod.Delete, $"{GuestPath(node, kind, vmid)}?purge=1", null, ct);

    /// <summary>Converts a stopped guest into a template.</summary>
    public Task<JsonElement?> ConvertToTemplateAsync(string node, GuestKind kind, int vmid, CancellationToken ct) =>
        SendAsync<JsonElement?>(HttpMethod.Post, $"{GuestPath(node, kind, vmid)}/template", [], ct);

    // --- Plumbing -----------------------------------------------------------------------------

    private Task<string> PowerAsync(string node, GuestKind kind, int vmid, string action, List<KeyValuePair<string, string>> form, CancellationToken ct) =>
        SendAsync<string>(HttpMethod.Post, $"{GuestPath(node, kind, vmid)}/status/{action}", form, ct);

    private Task<T> GetAsync<T>(string path, CancellationToken ct) => SendAsync<T>(HttpMethod.Get, path, null, ct);

    private async Task<T> SendAsync<T>(HttpMethod method, string path, List<KeyValuePair<string, string>>? form, CancellationToken ct)
    {
        // Absolute: the host may change at run time when an admin saves new Proxmox settings.
        using var request = new HttpRequestMessage(method, new Uri(connections.Current.BaseUrl, path));
        if (form is not null)
        {
            // FormUrlEncodedContent has a known length (no chunking) and escapes '=' inside property strings.
            request.Content = new FormUrlEncodedContent(form);
        }

        HttpResponseMessage response;
        try
        {
            response = await httpClients.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
        }
        catch (HttpRequestException ex) when (pin.LastMismatch is { } presented && ex.InnerException is AuthenticationException)
        {
            throw new ProxmoxCertificateException(pin.Expected, presented, ex);
        }

        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(ct);
            if (!response.IsSuccessStatusCode)
            {
                throw ToException(response, method, path, body);
            }

            var envelope = JsonSerializer.Deserialize<Envelope<T>>(body, ProxmoxJson.Options)
                ?? throw new JsonException($"Proxmox sent an empty answer to {method} {PathOnly(path)}.");
            return envelope.Data!;
        }
    }

    private static ProxmoxException ToException(HttpResponseMessage response, HttpMethod method, string path, string body)
    {
        // Before pve-http-server 5.2 the message is only in the reason phrase; later also in the body.
        var message = response.ReasonPhrase ?? response.StatusCode.ToString();
        var errors = new Dictionary<string, string>();
        if (body.Length > 0 && body.TrimStart().StartsWith('{'))
        {
            try
            {
                using var doc = JsonDocument.Parse(body);
                if (doc.RootElement.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String && m.GetString()!.Trim().Length > 0)
                {
                    message = m.GetString()!.Trim();
                }

                if (doc.RootElement.TryGetProperty("errors", out var e) && e.ValueKind == JsonValueKind.Object)
                {
                    foreach (var p in e.EnumerateObject())
                    {
                        errors[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()!.Trim() : p.Value.GetRawText();
                    }
                }
            }
            catch (JsonException)
            {
                // Not Proxmox's JSON (a proxy's error page): the reason phrase is all we have.
            }
        }

        return new ProxmoxException(response.StatusCode, method.Method, PathOnly(path), message, errors);
    }

    private static string PathOnly(string path) => "/" + path.Split('?')[0];

    private static string GuestPath(string node, GuestKind kind, int vmid) =>
        $"nodes/{Seg(node)}/{(kind == GuestKind.Lxc ? "lxc" : "qemu")}/{vmid.ToString(CultureInfo.InvariantCulture)}";

    private static string Seg(string value) => Uri.EscapeDataString(value);

    private static string Timeframe(RrdTimeframe timeframe) => timeframe.ToString().ToLowerInvariant();

    private static void AddIf(List<KeyValuePair<string, string>> form, string key, string? value)
    {
        if (value is not null)
        {
            form.Add(new(key, value));
        }
    }

    private sealed record Envelope<T>(T? Data);

    internal static AuthenticationHeaderValue Authorization(ProxmoxConnection connection) =>
        new("PVEAPIToken", connection.AuthorizationValue);
}
