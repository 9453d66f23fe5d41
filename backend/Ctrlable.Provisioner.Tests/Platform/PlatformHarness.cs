using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Platform;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Platform;

/// <summary>Orchestrator settings and helpers shared by the platform tests.</summary>
internal static class PlatformHarness
{
    public static readonly JsonSerializerOptions Json = CreateJson();

    /// <summary>
    /// Fast timings: poll every 100 ms, back-off from 200 ms up to 1 s, no heartbeat during a test. The attempt timeout
    /// is generous (a loaded machine answers slowly) and below the fake's slow mode.
    /// </summary>
    public static Dictionary<string, string?> PlatformSettings(FakePlatform platform, TimeSpan? poll = null) => new()
    {
        ["Platform:Url"] = platform.Url,
        ["Platform:PollInterval"] = (poll ?? TimeSpan.FromMilliseconds(100)).ToString(),
        ["Platform:RetryBaseDelay"] = "00:00:00.200",
        ["Platform:RetryMaxDelay"] = "00:00:01",
        ["Platform:AttemptTimeout"] = "00:00:05",
        ["Platform:Heartbeat"] = "01:00:00",
        ["Platform:HeartbeatJitter"] = "00:00:00",
        ["Platform:StartupJitter"] = "00:00:00",
    };

    public static async Task<PlatformStatus> StatusAsync(HttpClient client) =>
        (await client.GetFromJsonAsync<PlatformStatus>("/api/platform/status", Json))!;

    /// <summary>Enrols through the API as an admin and waits until the first report is delivered.</summary>
    public static async Task EnrolAsync(ProvisionerApp app, FakePlatform platform, bool replace = false)
    {
        using var admin = await app.CreateClientAsync(Role.Admin);
        var body = new { code = platform.CreateCode() };
        using var response = replace ? await admin.PutAsJsonAsync("/api/platform/enrolment", body) : await admin.PostAsJsonAsync("/api/platform/enrolment", body);
        response.EnsureSuccessStatusCode();
        await Eventually.TrueAsync(async () => (await StatusAsync(admin)).Connection == PlatformConnection.Connected, "first report delivered");
    }

    /// <summary>A project with <paramref name="count"/> instances recorded the way a deploy records them.</summary>
    public static async Task<IReadOnlyList<InstanceRow>> DeployAsync(ProvisionerApp app, int count, string slug = "acme")
    {
        var repo = app.Service<InstanceRepository>();
        var project = await repo.GetProjectBySlugAsync(slug) ?? (await repo.InsertProjectAsync(slug, slug, "{}", CancellationToken.None))!;
        var (_, rows) = await repo.InsertDeployAsync(project.Id, slug, "stack", "2026.06", "test",
            [.. Enumerable.Range(0, count).Select(_ => new NewInstance("zwavejs", "lxc", 9001, "pve1", "2026.06"))], CancellationToken.None);
        return rows;
    }

    private static async Task<ProjectRow?> GetProjectBySlugAsync(this InstanceRepository repo, string slug) =>
        (await repo.ListProjectsAsync(CancellationToken.None)).SingleOrDefault(p => p.Slug == slug);

    /// <summary>The state of each instance in a report, by id.</summary>
    public static Dictionary<long, string> States(JsonElement report) =>
        report.GetProperty("instances").EnumerateArray().ToDictionary(i => i.GetProperty("id").GetInt64(), i => i.GetProperty("state").GetString()!);

    public static async Task<Dictionary<long, string>> StoredStatesAsync(ProvisionerApp app)
    {
        var repo = app.Service<InstanceRepository>();
        var result = new Dictionary<long, string>();
        foreach (var project in await repo.ListProjectsAsync(CancellationToken.None))
        {
            foreach (var instance in await repo.ListByProjectAsync(project.Id, includeDeleted: true, CancellationToken.None))
            {
                result[instance.Id] = instance.State;
            }
        }

        return result;
    }

    private static JsonSerializerOptions CreateJson()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        JsonDefaults.Configure(options);
        return options;
    }
}
