using Ctrlable.Provisioner.Alerts;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Backup;
using Ctrlable.Provisioner.Build;
using Ctrlable.Provisioner.Dashboard;
using Ctrlable.Provisioner.Deploy;
using Ctrlable.Provisioner.GuestBackups;
using Ctrlable.Provisioner.Handover;
using Ctrlable.Provisioner.Hosting;
using Ctrlable.Provisioner.Observability;
using Ctrlable.Provisioner.Platform;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.Releases;
using Ctrlable.Provisioner.Settings;
using Ctrlable.Provisioner.Tls;
using Ctrlable.Provisioner.Upgrade;

namespace Ctrlable.Provisioner;

/// <summary>The orchestrator's entry point; Ctrlable.Provisioner.Demo starts the same app with its emulator.</summary>
public static class Program
{
    public static Task<int> Main(string[] args) => RunAsync(args);

    /// <summary>
    /// Builds, prepares and runs the orchestrator (or one of its commands). <paramref name="configure"/> runs on the
    /// builder after the product's own services: the demo registers its stand-in Proxmox host (<see cref="Proxmox.IProxmoxStandIn"/>) there.
    /// </summary>
    public static async Task<int> RunAsync(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        // The slim builder: no IIS integration, QUIC transport or Debug/EventSource loggers, which a Linux container never
        // uses but which CreateBuilder loads at start (memory, backend/bench/README.md "Memory"); Kestrel's HTTPS
        // configuration (https:// URLs, Kestrel:Endpoints) is added back.
        // No settings file is reloaded on change (a dealer's settings are the environment file, read at start), so no
        // file watcher: it costs a thread, memory, and inotify watches over the whole content root with its subfolders.
        var builder = WebApplication.CreateSlimBuilder([.. args, "--hostBuilder:reloadConfigOnChange=false"]);
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.AddApplicationServices();
        builder.AddAccessControl();
        builder.AddApiDocumentation();
        builder.AddObservability();
        configure?.Invoke(builder);

        var app = builder.Build();

        // Dealers: back up the data directory (encrypted) or restore a backup into it, and exit. Before PrepareAsync,
        // which would migrate the database and make keys and a certificate in a restore's target.
        if (BackupCommand.Parse(args) is { } backup)
        {
            return await BackupCommand.RunAsync(app.Services, backup,
                Environment.GetEnvironmentVariable(BackupCommand.PassphraseVariable) is { Length: > 0 } passphrase ? passphrase : null,
                Console.In, Console.Out, Console.Error);
        }

        if (!await app.PrepareAsync())
        {
            return 1;
        }

        // Installers: store the Proxmox token secret encrypted and exit (before a configured host needs it).
        if (args.Contains($"--{SetTokenSecretCommand.Switch}"))
        {
            return await SetTokenSecretCommand.RunAsync(app.Services, Console.In, Console.Out, Console.Error);
        }

        if (args.Contains($"--{SetTokenSecretCommand.CheckSwitch}"))
        {
            return await SetTokenSecretCommand.CheckAsync(app.Services, Console.Out);
        }

        // Headless installs: create the first admin and exit.
        if (app.Configuration[AdminCommand.Switch] is { } admin)
        {
            var password = Environment.GetEnvironmentVariable(AdminCommand.PasswordVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : null;
            return await AdminCommand.RunAsync(app.Services, admin, password, Console.In, Console.Out, Console.Error);
        }

        // Headless installs: store a release's Home Assistant base backup (checked as an upload is) and exit.
        if (ImportBaseBackupCommand.Arguments(args) is { } import)
        {
            return await ImportBaseBackupCommand.RunAsync(app.Services, import,
                Environment.GetEnvironmentVariable(ImportBaseBackupCommand.PasswordVariable) is { Length: > 0 } password ? password : null,
                Environment.GetEnvironmentVariable(ImportBaseBackupCommand.BackupPasswordVariable) is { Length: > 0 } key ? key : null,
                Console.In, Console.Out, Console.Error);
        }

        // Installers: print the one-time set-up code of the first admin (creating it when needed) and exit.
        if (args.Contains($"--{SetupCodeCommand.Switch}"))
        {
            return await SetupCodeCommand.RunAsync(app.Services, Console.Out, Console.Error);
        }

        // Serving holds the data directory (a restore refuses to write under it; a second orchestrator refuses to start).
        if (!await app.HoldDataDirectoryAsync())
        {
            return 1;
        }

        // Commands above need only the database; serving needs the Proxmox host (saved, configured, or a registered stand-in).
        if (!await app.ConnectProxmoxAsync())
        {
            return 1;
        }

        await app.AnnounceSetupCodeAsync();

        app.UseSecurityHeaders();
        app.UseApiErrors();
        app.UseRequestBodyLimits();
        app.UseApiDocumentation();
        app.UseSpa();
        app.UseAccessControl();

        app.MapHealth();
        app.MapAuth();
        app.MapTls();
        app.MapSettings();
        app.MapBackup();
        app.MapReleases();
        app.MapBuilds();
        app.MapDashboard();
        app.MapProjects();
        app.MapDeploy();
        app.MapUpgrades();
        app.MapCredentials();
        app.MapProvision();
        app.MapPlatform();
        app.MapAlerts();
        app.MapGuestBackups();
        app.MapMetrics();
        app.MapSpaFallback();

        await app.RunAsync();
        return 0;
    }
}
