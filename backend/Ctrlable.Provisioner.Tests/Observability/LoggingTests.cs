using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Tests.Deploy;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Tests.Observability;

/// <summary>Log output (SPEC §8e): levels that hold wherever the app starts, ids on a deploy's lines, the JSON format.</summary>
public sealed class LoggingTests
{
    [Fact]
    public async Task Every_log_line_of_a_deploy_carries_its_deploy_and_instance_id()
    {
        using var app = new ProvisionerApp(settings: DeployApiTests.FastDemo(), https: true);
        using var client = await app.CreateClientAsync(Role.Operator);
        var project = await DeployApiTests.CreateProjectAsync(client, "Scoped Site");

        var response = await client.PostAsJsonAsync($"/api/projects/{project}/instances", new { type = "zwavejs" });
        response.StatusCode.Should().Be(HttpStatusCode.Accepted);
        var deploy = await response.Content.ReadFromJsonAsync<JsonElement>();
        var deployId = deploy.GetProperty("id").GetInt64();
        var instanceId = deploy.GetProperty("instances")[0].GetProperty("id").GetInt64();
        await DeployApiTests.WaitForAsync(client, project, i => i.GetProperty("state").GetString() is "active" or "failed");

        var scope = $"scope: DeployId={deployId} InstanceId={instanceId}";
        var lines = app.Logs.Lines;
        // The pipeline stores the guest's first-boot assignment: a line written deep inside the deploy's work.
        lines.Should().Contain(l => l.Contains($"Created the first-boot assignment of instance {instanceId}", StringComparison.Ordinal))
            .Which.Should().Contain(scope);
        // So does the framework's: the HttpClient's lines of the clone request the pipeline sends to Proxmox.
        lines.Where(l => l.Contains(" System.Net.Http.HttpClient.proxmox.", StringComparison.Ordinal) && l.Contains("POST", StringComparison.Ordinal) && l.Contains("/clone", StringComparison.Ordinal))
            .Should().NotBeEmpty().And.OnlyContain(l => l.Contains(scope, StringComparison.Ordinal));
        // A request's lines are not the deploy's.
        lines.Where(l => l.Contains(" Ctrlable.Provisioner.Auth.", StringComparison.Ordinal)).Should().NotContain(l => l.Contains("DeployId=", StringComparison.Ordinal));
    }

    [Fact]
    public void Requests_log_at_warning_even_where_no_appsettings_json_is_found()
    {
        // Started from another working directory, the content root holds no appsettings.json.
        using var app = new ProvisionerApp();
        using var elsewhere = app.WithWebHostBuilder(builder => builder.ConfigureAppConfiguration((_, configuration) =>
        {
            foreach (var json in configuration.Sources.OfType<JsonConfigurationSource>().ToList())
            {
                configuration.Sources.Remove(json);
            }
        }));

        var settings = elsewhere.Services.GetRequiredService<IConfiguration>();
        settings["Logging:LogLevel:Microsoft.AspNetCore"].Should().Be("Warning");
        settings["Logging:LogLevel:Default"].Should().Be("Information");
    }

    [Fact]
    public void Settings_override_the_log_defaults_and_the_json_format_shows_scopes()
    {
        using var app = new ProvisionerApp(settings: new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Information",
            ["Logging:Console:FormatterName"] = "json",
        });

        app.Service<IConfiguration>()["Logging:LogLevel:Microsoft.AspNetCore"].Should().Be("Information");
        app.Service<IOptionsMonitor<ConsoleLoggerOptions>>().CurrentValue.FormatterName.Should().Be("json");
        app.Service<IOptionsMonitor<JsonConsoleFormatterOptions>>().CurrentValue.IncludeScopes.Should().BeTrue();
    }
}
