namespace Ctrlable.Provisioner.Demo;

/// <summary>
/// The orchestrator in demo mode: the product's own startup, plus the Proxmox emulator standing in when no Proxmox
/// host is saved or configured. (A class, not top-level statements, so tests and benchmarks can name it.)
/// </summary>
public sealed class DemoProgram
{
    private DemoProgram()
    {
    }

    public static Task<int> Main(string[] args) => Program.RunAsync(args, Configure);

    /// <summary>Demo mode's services: the simulated host as the product's stand-in, and its guests' ports when no host is configured.</summary>
    public static void Configure(WebApplicationBuilder builder)
    {
        // The orchestrator's HTTPS listener for the simulated guests, and the guests' apps, listen on loopback ports kept
        // in the data directory: Home Assistant's (the orchestrator's Home Assistant client probes HomeAssistant:Ports,
        // default [8123, 80]) and the other apps' (Z-Wave JS UI, Zigbee2MQTT, …; the dashboard's app health probes
        // Dashboard:AppPorts). Demo mode points both at them unless set.
        if (string.IsNullOrEmpty(builder.Configuration["Proxmox:Url"]))
        {
            var dataDirectory = builder.Configuration[$"{Config.StorageOptions.Section}:DataDirectory"] ?? new Config.StorageOptions().DataDirectory;
            builder.Configuration.AddInMemoryCollection(SimulatedProxmoxHost.FreeDemoPorts(builder.Configuration, Path.GetFullPath(dataDirectory)));
        }

        builder.Services.AddSingleton<SimulatedProxmoxHost>();
        builder.Services.AddSingleton<Proxmox.IProxmoxStandIn>(sp => sp.GetRequiredService<SimulatedProxmoxHost>());
        // The simulated guests' upgrade timers (the emulator runs no timers of its own).
        builder.Services.AddHostedService<SimulatedUpgradeTimer>();
    }
}
