using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Releases;

public sealed class ReleasesApiTests : IAsyncLifetime
{
    private readonly string _releases = TempDirectory.Create("releases");
    private readonly ProvisionerApp _app;
    private HttpClient _client = null!;

    public ReleasesApiTests()
    {
        File.Copy(Path.Combine(RepoPaths.Releases, "2026.06.yaml"), Path.Combine(_releases, "2026.06.yaml"));
        File.WriteAllText(Path.Combine(_releases, "2026.07.yaml"), File.ReadAllText(Path.Combine(RepoPaths.Releases, "2026.06.yaml"))
            .Replace("release: \"2026.06\"", "release: \"2026.07\"", StringComparison.Ordinal)
            .Replace("    resources: { cpu: 2, ram: 2048, disk: 8 }\n    unprivileged: true\n\n  zigbee2mqtt", "    resouces: { cpu: 2, ram: 2048, disk: 8 }\n    unprivileged: true\n\n  zigbee2mqtt", StringComparison.Ordinal));
        _app = new ProvisionerApp(_releases);
    }

    public async Task InitializeAsync() => _client = await _app.CreateClientAsync(Role.Viewer);

    public Task DisposeAsync()
    {
        _client.Dispose();
        _app.Dispose();
        TempDirectory.TryDelete(_releases);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Lists_valid_and_broken_releases_with_their_errors()
    {
        var releases = await _client.GetFromJsonAsync<JsonElement>("/api/releases");

        releases.GetArrayLength().Should().Be(2);
        var valid = releases[0];
        valid.GetProperty("name").GetString().Should().Be("2026.06");
        valid.GetProperty("valid").GetBoolean().Should().BeTrue();
        valid.GetProperty("templateCount").GetInt32().Should().Be(6);
        valid.GetProperty("communityScriptsRef").GetString().Should().Be("2026-05-30");
        valid.GetProperty("active").GetBoolean().Should().BeTrue("the simulated host starts with the newest valid release built");

        var broken = releases[1];
        broken.GetProperty("name").GetString().Should().Be("2026.07");
        broken.GetProperty("valid").GetBoolean().Should().BeFalse();
        var error = broken.GetProperty("errors").EnumerateArray().Single(e => e.GetProperty("path").GetString() == "templates.zwavejs.resouces");
        error.GetProperty("line").GetInt32().Should().Be(LineOf(Path.Combine(_releases, "2026.07.yaml"), "resouces"));
        error.GetProperty("file").GetString().Should().EndWith("2026.07.yaml");
    }

    [Fact]
    public async Task Detail_has_the_manifest_and_per_template_build_state()
    {
        var detail = await _client.GetFromJsonAsync<JsonElement>("/api/releases/2026.06");

        detail.GetProperty("manifest").GetProperty("decisions").GetProperty("frigatePlacement").GetString().Should().Be("separate");
        var templates = detail.GetProperty("templates").EnumerateArray().ToList();
        templates.Select(t => t.GetProperty("name").GetString()).Should().Equal("ctrlable-pro", "zwavejs", "zigbee2mqtt", "docker-portainer", "frigate", "freepbx");
        templates.Should().OnlyContain(t => t.GetProperty("state").GetString() == "built" && t.GetProperty("node").GetString() == "pve");
        templates[0].GetProperty("kind").GetString().Should().Be("vm");
    }

    [Fact]
    public async Task Unknown_release_is_a_problem_404()
    {
        var response = await _client.GetAsync("/api/releases/2099.01");

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        (await response.Content.ReadAsStringAsync()).Should().Contain("2099.01");
    }

    [Fact]
    public async Task Raw_manifest_is_served_for_the_build_wrapper()
    {
        var response = await _client.GetAsync("/api/releases/2026.06/manifest");

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/yaml");
        (await response.Content.ReadAsStringAsync()).Should().Be(await File.ReadAllTextAsync(Path.Combine(_releases, "2026.06.yaml")));
    }

    [Fact]
    public async Task Raw_manifest_of_a_broken_release_is_refused()
    {
        var response = await _client.GetAsync("/api/releases/2026.07/manifest");

        response.StatusCode.Should().Be(HttpStatusCode.Conflict);
        (await response.Content.ReadAsStringAsync()).Should().Contain("resouces");
    }

    [Fact]
    public async Task Validate_accepts_a_good_manifest()
    {
        var yaml = await File.ReadAllTextAsync(Path.Combine(_releases, "2026.06.yaml"));

        var response = await _client.PostAsync("/api/releases/validate", new StringContent(yaml, Encoding.UTF8, "application/yaml"));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        body.GetProperty("release").GetString().Should().Be("2026.06");
        body.GetProperty("templateCount").GetInt32().Should().Be(6);
    }

    [Fact]
    public async Task Validate_and_the_list_show_a_privileged_container_as_a_warning()
    {
        var shipped = await File.ReadAllTextAsync(Path.Combine(_releases, "2026.06.yaml"));
        var at = shipped.IndexOf("    unprivileged: true", shipped.IndexOf("  docker-portainer:", StringComparison.Ordinal), StringComparison.Ordinal);
        var yaml = string.Concat(shipped.AsSpan(0, at), "    unprivileged: false", shipped.AsSpan(at + "    unprivileged: true".Length));
        var line = Array.IndexOf(yaml.Split('\n'), "    unprivileged: false") + 1;

        var response = await _client.PostAsync("/api/releases/validate?file=mine.yaml", new StringContent(yaml, Encoding.UTF8, "application/yaml"));

        response.StatusCode.Should().Be(HttpStatusCode.OK, "a warning does not make the manifest invalid");
        var warning = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("warnings").EnumerateArray().Should().ContainSingle().Subject;
        warning.GetProperty("file").GetString().Should().Be("mine.yaml");
        warning.GetProperty("line").GetInt32().Should().Be(line);
        warning.GetProperty("path").GetString().Should().Be("templates.docker-portainer.unprivileged");
        warning.GetProperty("message").GetString().Should().Contain("ALLOW_PRIVILEGED=yes");

        await File.WriteAllTextAsync(Path.Combine(_releases, "2026.06.yaml"), yaml);
        var listed = (await _client.GetFromJsonAsync<JsonElement>("/api/releases"))[0];
        listed.GetProperty("valid").GetBoolean().Should().BeTrue();
        listed.GetProperty("warnings").EnumerateArray().Should().ContainSingle(w => w.GetProperty("line").GetInt32() == line);
        (await _client.GetFromJsonAsync<JsonElement>("/api/releases/2026.06")).GetProperty("warnings").GetArrayLength().Should().Be(1);
    }

    [Fact]
    public async Task Validate_lists_every_error_with_line_and_column()
    {
        var yaml = """
            release: "2026.13"
            community_scripts_ref: main
            proxmox_min_version: "8.2"
            templates:
              zwavejs:
                kind: lxc
                builder: ct/zwave-js-ui.sh
                vmid: 9001
                resources: { cpu: 2, ram: 2048, disk: 8 }
            """;

        var response = await _client.PostAsync("/api/releases/validate?file=mine.yaml", new StringContent(yaml, Encoding.UTF8, "application/yaml"));

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        problem.GetProperty("errors").GetProperty("release")[0].GetString().Should().StartWith("mine.yaml:1:");
        problem.GetProperty("errors").GetProperty("community_scripts_ref")[0].GetString().Should().StartWith("mine.yaml:2:");
        var structured = problem.GetProperty("manifestErrors").EnumerateArray().ToList();
        structured.Should().Contain(e => e.GetProperty("path").GetString() == "community_scripts_ref" && e.GetProperty("line").GetInt32() == 2 && e.GetProperty("column").GetInt32() > 0);
    }

    [Fact]
    public async Task Validate_refuses_an_oversized_body()
    {
        var response = await _client.PostAsync("/api/releases/validate", new StringContent(new string('#', 1024 * 1024 + 10), Encoding.UTF8, "application/yaml"));

        response.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
    }

    private static int LineOf(string file, string text) =>
        File.ReadAllLines(file).Select((line, i) => (line, i)).First(x => x.line.Contains(text, StringComparison.Ordinal)).i + 1;
}
