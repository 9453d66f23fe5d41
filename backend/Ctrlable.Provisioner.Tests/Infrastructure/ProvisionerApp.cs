using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Ctrlable.Provisioner.Tests.Infrastructure;

/// <summary>
/// The orchestrator in-process, on its own SQLite file and its own releases directory, so tests
/// run in parallel without sharing state.
/// </summary>
internal sealed class ProvisionerApp : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;
    private readonly Action<IServiceCollection>? _services;

    public ProvisionerApp(string? releasesDirectory = null, IDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        _services = services;
        DataDirectory = TempDirectory.Create("data");
        ReleasesDirectory = releasesDirectory ?? RepoPaths.Releases;
        _settings = new Dictionary<string, string?>
        {
            ["Storage:DataDirectory"] = DataDirectory,
            ["Storage:ReleasesDirectory"] = ReleasesDirectory,
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            _settings[key] = value;
        }
    }

    public string DataDirectory { get; }
    public string ReleasesDirectory { get; }
    public string DatabasePath => Path.Combine(DataDirectory, "provisioner.db");

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        // Not Development: clients must see problem+json, never the developer exception page.
        builder.UseEnvironment("Testing");
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        if (_services is not null)
        {
            builder.ConfigureServices(_services);
        }
    }

    /// <summary>Settings that point the orchestrator at an emulator instead of the built-in demo host.</summary>
    public static Dictionary<string, string?> ProxmoxSettings(ProxmoxHarness pve) => new()
    {
        ["Proxmox:Url"] = pve.Sim.BaseAddress.ToString(),
        ["Proxmox:TokenId"] = pve.Connection.TokenId,
        ["Proxmox:TokenSecret"] = pve.Connection.TokenSecret,
        ["Proxmox:CertificateFingerprint"] = pve.Connection.CertificateFingerprint,
        ["Proxmox:Node"] = "pve1",
    };

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            TempDirectory.TryDelete(DataDirectory);
        }
    }
}
