using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Ctrlable.Provisioner.Tests.Hosting;

public sealed class HostingTests : IDisposable
{
    private readonly ProvisionerApp _app = new();

    public void Dispose() => _app.Dispose();

    [Fact]
    public async Task Health_reports_process_and_database()
    {
        using var client = _app.CreateClient();

        var health = await client.GetFromJsonAsync<JsonElement>("/healthz");

        health.GetProperty("status").GetString().Should().Be("ok");
        health.GetProperty("database").GetString().Should().Be("ok");
        File.Exists(_app.DatabasePath).Should().BeTrue("the orchestrator keeps its state in a real SQLite file");
    }

    [Fact]
    public void No_settings_file_is_watched_even_when_the_host_is_told_to_reload_on_change()
    {
        // The host setting arrives as a command-line argument, which would override the environment's.
        using var app = _app.WithWebHostBuilder(b => b.UseSetting("hostBuilder:reloadConfigOnChange", "true"));

        var configuration = (IConfigurationRoot)app.Services.GetRequiredService<IConfiguration>();

        var files = configuration.Providers.OfType<FileConfigurationProvider>().ToList();
        files.Should().NotBeEmpty("appsettings.json is read");
        files.Should().OnlyContain(p => !p.Source.ReloadOnChange);
    }

    [Fact]
    public async Task Unknown_api_path_is_a_problem_404_not_the_spa()
    {
        using var client = _app.CreateClient();

        var response = await client.GetAsync("/api/does-not-exist");

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
    }

    [Fact]
    public async Task Swagger_ui_and_document_are_served()
    {
        using var client = _app.CreateClient();

        (await client.GetAsync("/swagger/index.html")).StatusCode.Should().Be(HttpStatusCode.OK);
        var document = await client.GetFromJsonAsync<JsonElement>("/swagger/v1/swagger.json");
        document.GetProperty("paths").TryGetProperty("/api/releases", out _).Should().BeTrue();
    }

    [Fact]
    public async Task Every_operation_is_documented_with_summary_tag_and_responses()
    {
        using var client = _app.CreateClient();
        var document = await client.GetFromJsonAsync<JsonElement>("/swagger/v1/swagger.json");

        foreach (var path in document.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                var where = $"{operation.Name.ToUpperInvariant()} {path.Name}";
                operation.Value.TryGetProperty("summary", out var summary).Should().BeTrue(where);
                summary.GetString().Should().NotBeNullOrWhiteSpace(where);
                operation.Value.GetProperty("tags").GetArrayLength().Should().BeGreaterThan(0, where);
                operation.Value.TryGetProperty("operationId", out _).Should().BeTrue(where);
                operation.Value.GetProperty("responses").EnumerateObject().Should().NotBeEmpty(where);
            }
        }
    }
}
