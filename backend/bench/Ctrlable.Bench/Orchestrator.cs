using Ctrlable.Provisioner.Auth;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Ctrlable.Bench;

/// <summary>
/// The real orchestrator on real Kestrel (loopback, free port) with its own data directory, configured like
/// a production install against a Proxmox host — here, the emulator.
/// </summary>
internal sealed class Orchestrator : WebApplicationFactory<Ctrlable.Provisioner.Demo.DemoProgram>
{
    private readonly Dictionary<string, string?> _settings;

    public Orchestrator(Dictionary<string, string?> settings)
    {
        DataDirectory = Path.Combine(Path.GetTempPath(), "ctrlable-bench", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(DataDirectory);
        _settings = new Dictionary<string, string?>(settings) { ["Storage:DataDirectory"] = DataDirectory };
        // Loopback, free ports; a benchmark that runs guests' first boots adds an https:// URL for them.
        _settings.TryAdd("Urls", "http://127.0.0.1:0");
        // Every log line on standard error: standard output carries the results (one JSON object with --json).
        _settings.TryAdd("Logging:Console:LogToStandardErrorThreshold", "Trace");
        // The factory looks for the content root beside the solution; the project lives under backend/.
        Environment.SetEnvironmentVariable("ASPNETCORE_TEST_CONTENTROOT_CTRLABLE_PROVISIONER_DEMO", ProjectDirectory());
        UseKestrel();
    }

    private static string ProjectDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Ctrlable.Provisioner.sln")))
            {
                return Path.Combine(dir.FullName, "backend", "Ctrlable.Provisioner");
            }
        }

        throw new InvalidOperationException("Run the benchmark from within the repository.");
    }

    public string DataDirectory { get; }

    /// <summary>Starts the server and returns a client with an API token of the given role.</summary>
    public async Task<HttpClient> StartAsync(Role role)
    {
        StartServer();
        await Services.GetRequiredService<AccountService>().CreateFirstAdminAsync("bench", "bench-admin-Passw0rd", CancellationToken.None);
        var token = await Services.GetRequiredService<ApiTokenService>().IssueAsync("bench", role, null, "bench", CancellationToken.None);
        var client = CreateDefaultClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", token.Token);
        return client;
    }

    /// <summary>The benchmark's own clients use the plain HTTP listener (no certificate to trust).</summary>
    protected override void ConfigureClient(HttpClient client)
    {
        base.ConfigureClient(client);
        var addresses = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        client.BaseAddress = new Uri(addresses.First(a => a.StartsWith("http://", StringComparison.Ordinal)));
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Leftover temp files only.
        }
    }
}
