using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.Secrets;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Dapper;

namespace Ctrlable.Provisioner.Tests.Deploy;

/// <summary>
/// Camera stream passwords are kept in the encrypted secret store: the project row and every response show
/// <c>user:***@</c>, only the guest's assignment carries the real URL, and the redacted form sent back keeps the password.
/// </summary>
public sealed class CameraCredentialsTests : IAsyncLifetime
{
    private const string Password = "cam-Secret-1";
    private const string Url = "rtsp://viewer:" + Password + "@192.168.1.80:554/stream1";
    private const string Shown = "rtsp://viewer:***@192.168.1.80:554/stream1";

    private readonly ProvisionerApp _app = new();
    private HttpClient _client = null!;

    public async Task InitializeAsync() => _client = await _app.CreateClientAsync(Role.Operator);

    public Task DisposeAsync()
    {
        _client.Dispose();
        _app.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_created_project_shows_the_password_nowhere_but_the_guests_assignment()
    {
        var response = await _client.PostAsJsonAsync("/api/projects", Project("Müller", ("front-door", Url), ("garage", "rtsp://192.168.1.81/live")));

        response.StatusCode.Should().Be(HttpStatusCode.Created);
        var created = await response.Content.ReadAsStringAsync();
        created.Should().NotContain(Password).And.Contain(Shown).And.Contain("rtsp://192.168.1.81/live");
        var id = JsonDocument.Parse(created).RootElement.GetProperty("id").GetInt64();

        (await _client.GetStringAsync($"/api/projects/{id}")).Should().NotContain(Password).And.Contain(Shown);
        (await _client.GetStringAsync("/api/projects")).Should().NotContain(Password).And.Contain(Shown);
        (await _client.GetStringAsync("/api/dashboard")).Should().NotContain(Password);
        (await ProjectRowAsync(id)).Should().NotContain(Password).And.Contain(Shown);
        DatabaseFilesContain(Password).Should().BeFalse("the password is stored only encrypted");
        (await AuditTextAsync()).Should().NotContain(Password);
        _app.Logs.Lines.Should().NotContain(line => line.Contains(Password, StringComparison.Ordinal));

        (await AssignedUrlsAsync(id)).Should().Equal(Url, "rtsp://192.168.1.81/live");
    }

    [Fact]
    public async Task Sending_the_redacted_url_back_keeps_the_password_and_a_new_one_replaces_it()
    {
        var id = await CreateAsync(("front-door", Url));
        var project = await _client.GetFromJsonAsync<JsonElement>($"/api/projects/{id}");

        // GET then PUT of an unchanged project: the settings as shown, *** included.
        var unchanged = await _client.PutAsJsonAsync($"/api/projects/{id}", new { name = "Renamed site", settings = project.GetProperty("settings") });

        unchanged.StatusCode.Should().Be(HttpStatusCode.OK, await unchanged.Content.ReadAsStringAsync());
        (await unchanged.Content.ReadAsStringAsync()).Should().NotContain(Password).And.Contain(Shown);
        (await AssignedUrlsAsync(id)).Should().Equal(Url);

        const string NewUrl = "rtsp://admin:n3w-Secret@192.168.1.80:554/stream2";
        var replaced = await _client.PutAsJsonAsync($"/api/projects/{id}", Project("Renamed site", ("front-door", NewUrl)));

        replaced.StatusCode.Should().Be(HttpStatusCode.OK);
        (await replaced.Content.ReadAsStringAsync()).Should().NotContain("n3w-Secret").And.Contain("rtsp://admin:***@192.168.1.80:554/stream2");
        (await AssignedUrlsAsync(id)).Should().Equal(NewUrl);
        DatabaseFilesContain("n3w-Secret").Should().BeFalse();
    }

    [Fact]
    public async Task A_renamed_camera_with_its_redacted_url_keeps_its_password()
    {
        var id = await CreateAsync(("front-door", Url));

        var response = await _client.PutAsJsonAsync($"/api/projects/{id}", Project("Site", ("porch", Shown)));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        (await AssignedUrlsAsync(id)).Should().Equal(Url);
        (await CameraSecretsAsync(id)).Should().Equal(CameraCredentials.SecretName(id, "porch"));
    }

    [Fact]
    public async Task Removing_a_camera_or_its_password_removes_its_secret()
    {
        var id = await CreateAsync(("front-door", Url), ("garage", "rtsp://user:garage-Secret@192.168.1.81/live"));
        (await CameraSecretsAsync(id)).Should().HaveCount(2);

        (await _client.PutAsJsonAsync($"/api/projects/{id}", Project("Site", ("front-door", Shown)))).StatusCode.Should().Be(HttpStatusCode.OK);
        (await CameraSecretsAsync(id)).Should().Equal(CameraCredentials.SecretName(id, "front-door"));

        (await _client.PutAsJsonAsync($"/api/projects/{id}", Project("Site", ("front-door", "rtsp://192.168.1.80/open")))).StatusCode.Should().Be(HttpStatusCode.OK);
        (await CameraSecretsAsync(id)).Should().BeEmpty();
    }

    [Fact]
    public async Task A_redacted_url_with_no_stored_password_is_refused_at_its_field()
    {
        var response = await _client.PostAsJsonAsync("/api/projects", Project("Site", ("front-door", Shown)));

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        problem.GetProperty("errors").GetProperty("settings.cameras[0].streamUrl")[0].GetString().Should().Contain("enter it again");
        (await _client.GetFromJsonAsync<JsonElement>("/api/projects")).GetArrayLength().Should().Be(0, "nothing was created");
    }

    [Theory]
    [InlineData("rtsp://viewer:***@203.0.113.66:554/stream1")]
    [InlineData("rtsp://viewer:***@192.168.1.80:8554/stream1")]
    [InlineData("rtsps://viewer:***@192.168.1.80:554/stream1")]
    [InlineData("rtsp://admin:***@192.168.1.80:554/stream1")]
    public async Task A_kept_password_is_never_sent_to_another_host_port_scheme_or_user(string moved)
    {
        var id = await CreateAsync(("front-door", Url));

        // Someone who may edit the project but never saw the password points the camera elsewhere, keeping ***.
        var response = await _client.PutAsJsonAsync($"/api/projects/{id}", Project("Site", ("front-door", moved)));

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        problem.GetProperty("errors").GetProperty("settings.cameras[0].streamUrl")[0].GetString().Should().Contain("enter it again");
        (await AssignedUrlsAsync(id)).Should().Equal(Url);
    }

    [Fact]
    public async Task A_kept_password_follows_a_new_path_on_the_same_camera()
    {
        var id = await CreateAsync(("front-door", Url));

        var response = await _client.PutAsJsonAsync($"/api/projects/{id}", Project("Site", ("front-door", "rtsp://viewer:***@192.168.1.80:554/stream2")));

        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        (await AssignedUrlsAsync(id)).Should().Equal($"rtsp://viewer:{Password}@192.168.1.80:554/stream2");
    }

    [Fact]
    public async Task Passwords_saved_in_a_project_row_before_are_moved_to_the_secret_store_and_never_shown()
    {
        var settings = JsonSerializer.Serialize(new SiteSettings { Cameras = [new CameraSettings { Name = "front-door", StreamUrl = Url }] }, ProjectJson.Options);
        long id;
        await using (var connection = await _app.Service<Database>().OpenAsync(CancellationToken.None))
        {
            id = await connection.ExecuteScalarAsync<long>(
                "INSERT INTO projects (name, slug, settings_json, created_at, updated_at) VALUES ('Old', 'old', @settings, @now, @now) RETURNING id;",
                new { settings, now = DateTimeOffset.UtcNow });
        }

        (await _client.GetStringAsync($"/api/projects/{id}")).Should().NotContain(Password).And.Contain(Shown);

        (await _app.Service<CameraCredentials>().MoveStoredPasswordsAsync(CancellationToken.None)).Should().Be(1);

        (await ProjectRowAsync(id)).Should().NotContain(Password).And.Contain(Shown);
        (await AssignedUrlsAsync(id)).Should().Equal(Url);
        (await _app.Service<CameraCredentials>().MoveStoredPasswordsAsync(CancellationToken.None)).Should().Be(0);
    }

    [Theory]
    [InlineData("rtsp://user:pass@cam/stream", "rtsp://user:***@cam/stream")]
    [InlineData("rtsp://user:p@ss:word@cam:554/s?x=1", "rtsp://user:***@cam:554/s?x=1")] // the last '@' before the path ends the password (ffmpeg's rule)
    [InlineData("rtsps://user:p%40ss@cam", "rtsps://user:***@cam")]
    [InlineData("http://user@cam/snap", "http://user@cam/snap")]
    [InlineData("rtsp://user:@cam/s", "rtsp://user:@cam/s")]
    [InlineData("rtsp://cam/s?user=a@b", "rtsp://cam/s?user=a@b")]
    [InlineData("rtsp://[fe80::1]:554/s", "rtsp://[fe80::1]:554/s")]
    public void Redact_hides_the_password_of_the_user_information_only(string url, string shown)
    {
        CameraCredentials.Redact(url).Should().Be(shown);
    }

    private static object Project(string name, params (string Name, string Url)[] cameras) => new
    {
        name,
        settings = new
        {
            zigbee = new { host = "192.168.1.60", port = 6638 },
            zwave = new { host = "192.168.1.61", port = 3333 },
            cameras = cameras.Select(c => new { name = c.Name, streamUrl = c.Url }).ToArray(),
        },
    };

    private async Task<long> CreateAsync(params (string Name, string Url)[] cameras)
    {
        var response = await _client.PostAsJsonAsync("/api/projects", Project($"Site {Guid.NewGuid():N}"[..20], cameras));
        response.StatusCode.Should().Be(HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
    }

    /// <summary>The stream URLs of a fresh Frigate assignment made from the project's stored settings, as the deploy pipeline makes it.</summary>
    private async Task<IReadOnlyList<string>> AssignedUrlsAsync(long projectId)
    {
        var ct = CancellationToken.None;
        var project = await _app.Service<InstanceRepository>().GetProjectAsync(projectId, ct);
        var settings = JsonSerializer.Deserialize<SiteSettings>(project!.SettingsJson, ProjectJson.Options)!;
        var instanceId = Random.Shared.NextInt64(1_000_000, 2_000_000);
        var assignments = _app.Service<AssignmentService>();
        await assignments.CreateAsync(instanceId, TemplateTypes.Frigate, "site-frigate", "2026.06", projectId, settings, brokerHost: null, ct);
        var assignment = await assignments.GetAsync(instanceId, ct);
        await assignments.DeleteAsync(instanceId, ct);
        return [.. assignment!.Cameras!.Select(c => c.StreamUrl)];
    }

    private async Task<string> ProjectRowAsync(long id)
    {
        await using var connection = await _app.Service<Database>().OpenAsync(CancellationToken.None);
        var row = await connection.QuerySingleAsync("SELECT * FROM projects WHERE id = @id;", new { id });
        return string.Join("\n", ((IDictionary<string, object?>)row).Values);
    }

    private async Task<string> AuditTextAsync()
    {
        await using var connection = await _app.Service<Database>().OpenAsync(CancellationToken.None);
        var rows = await connection.QueryAsync("SELECT * FROM audit_log;");
        return string.Join("\n", rows.Select(r => string.Join(" ", ((IDictionary<string, object?>)r).Values)));
    }

    private async Task<IReadOnlyList<string>> CameraSecretsAsync(long id) =>
        [.. (await _app.Service<SecretStore>().ListAsync(SecretKind.ProjectAppSecret, $"project/{id}/camera/")).Select(s => s.Name)];

    private bool DatabaseFilesContain(string text)
    {
        var needle = Encoding.UTF8.GetBytes(text);
        foreach (var file in Directory.EnumerateFiles(_app.DataDirectory, "provisioner.db*"))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            if (copy.ToArray().AsSpan().IndexOf(needle) >= 0)
            {
                return true;
            }
        }

        return false;
    }
}
