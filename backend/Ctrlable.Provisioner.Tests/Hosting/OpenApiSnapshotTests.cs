using System.Text.Json;
using System.Text.Json.Nodes;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Hosting;

/// <summary>
/// The SPA's API types are generated from frontend/openapi.json; this keeps that file equal to what the
/// backend serves. Run with UPDATE_OPENAPI=1 to rewrite it, then `npm run gen:api` in frontend/.
/// </summary>
public sealed class OpenApiSnapshotTests
{
    [Fact]
    public async Task Committed_openapi_document_matches_the_running_backend()
    {
        using var app = new ProvisionerApp();
        using var client = app.CreateClient();
        var live = Normalise(await client.GetStringAsync("/swagger/v1/swagger.json"));

        if (Environment.GetEnvironmentVariable("UPDATE_OPENAPI") == "1")
        {
            await File.WriteAllTextAsync(RepoPaths.OpenApiSnapshot, live);
        }

        var committed = File.Exists(RepoPaths.OpenApiSnapshot) ? Normalise(await File.ReadAllTextAsync(RepoPaths.OpenApiSnapshot)) : "";
        committed.Should().Be(live, "frontend/openapi.json is stale: run `UPDATE_OPENAPI=1 dotnet test --filter OpenApiSnapshot` and `npm run gen:api` in frontend/");
    }

    private static string Normalise(string json) =>
        JsonNode.Parse(json)!.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
}
