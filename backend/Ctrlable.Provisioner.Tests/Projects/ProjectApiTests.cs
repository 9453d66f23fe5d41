using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Projects;

/// <summary>Project create and update: what GET shows, PUT takes back; the same rules for the settings either way.</summary>
public sealed class ProjectApiTests : IAsyncLifetime
{
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
    public async Task A_project_created_with_only_a_name_is_put_back_unchanged()
    {
        var created = await _client.PostAsJsonAsync("/api/projects", new { name = "Only a name" });
        created.StatusCode.Should().Be(HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        var before = await _client.GetFromJsonAsync<JsonElement>($"/api/projects/{id}");

        var put = await _client.PutAsJsonAsync($"/api/projects/{id}", new { name = before.GetProperty("name").GetString(), settings = before.GetProperty("settings") });

        put.StatusCode.Should().Be(HttpStatusCode.OK, await put.Content.ReadAsStringAsync());
        var after = await _client.GetFromJsonAsync<JsonElement>($"/api/projects/{id}");
        after.GetProperty("name").GetString().Should().Be("Only a name");
        after.GetProperty("slug").GetString().Should().Be(before.GetProperty("slug").GetString());
        after.GetProperty("settings").GetRawText().Should().Be(before.GetProperty("settings").GetRawText());
    }

    [Fact]
    public async Task The_whole_get_body_put_back_is_accepted()
    {
        var created = await _client.PostAsJsonAsync("/api/projects", new { name = "Whole body" });
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        var body = await _client.GetStringAsync($"/api/projects/{id}");

        var put = await _client.PutAsync($"/api/projects/{id}", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        put.StatusCode.Should().Be(HttpStatusCode.OK, await put.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_name_that_gives_no_usable_slug_and_no_slug_is_refused_at_the_slug()
    {
        var created = await _client.PostAsJsonAsync("/api/projects", new { name = "!!!" });

        created.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        var problem = await created.Content.ReadFromJsonAsync<JsonElement>();
        problem.GetProperty("errors").EnumerateObject().Select(e => e.Name).Should().Equal("slug");
        (await _client.GetFromJsonAsync<JsonElement>("/api/projects")).EnumerateArray().Should().NotContain(p => p.GetProperty("name").GetString() == "!!!");
    }

    [Fact]
    public void The_default_settings_pass_the_settings_rules()
    {
        var result = new SiteSettingsValidator().Validate(new SiteSettings());

        result.Errors.Should().BeEmpty();
    }

    [Fact]
    public async Task Create_and_update_refuse_the_same_settings_with_the_same_errors()
    {
        var settings = new { zigbee = new { mode = "network", host = "not a host!", port = 0 }, zwave = new { mode = "usb", usbDevice = "ttyACM0" } };
        var created = await _client.PostAsJsonAsync("/api/projects", new { name = "Site", settings });
        var ok = await _client.PostAsJsonAsync("/api/projects", new { name = "Site" });
        var id = (await ok.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        var updated = await _client.PutAsJsonAsync($"/api/projects/{id}", new { name = "Site", settings });

        created.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        updated.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        var createErrors = await ErrorsAsync(created);
        createErrors.Should().BeEquivalentTo(await ErrorsAsync(updated));
        createErrors.Keys.Should().Contain(["settings.zigbee.host", "settings.zigbee.port", "settings.zwave.usbDevice"]);
    }

    private static async Task<Dictionary<string, string[]>> ErrorsAsync(HttpResponseMessage response)
    {
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        return problem.GetProperty("errors").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.EnumerateArray().Select(e => e.GetString()!).ToArray());
    }
}
