using Ctrlable.Provisioner.Alerts;
using Ctrlable.Provisioner.Build;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Dashboard;
using Ctrlable.Provisioner.Deploy;
using Ctrlable.Provisioner.GuestBackups;
using Ctrlable.Provisioner.Handover;
using Ctrlable.Provisioner.HomeAssistant;
using Ctrlable.Provisioner.HomeAssistant.Setup;
using Ctrlable.Provisioner.Platform;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.Releases;
using Ctrlable.Provisioner.Secrets;
using Ctrlable.Provisioner.Settings;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tls;
using Ctrlable.Provisioner.Upgrade;
using FluentValidation;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Hosting;

public static class ApplicationServices
{
    /// <summary>
    /// Every service of the orchestrator: each feature registers its own (and binds its settings, checked at start);
    /// this only calls them, in an order that keeps the hosted services starting as they always have.
    /// </summary>
    public static IHostApplicationBuilder AddApplicationServices(this IHostApplicationBuilder builder)
    {
        // Settings: appsettings.json, then CTRLABLE_* environment variables (e.g. CTRLABLE_PROXMOX__URL).
        builder.Configuration.AddEnvironmentVariables("CTRLABLE_");
        builder.Services.AddSingleton(TimeProvider.System);

        var services = builder.Services;
        services.AddState();
        services.AddSecrets();
        services.AddTls();
        services.AddReleases();
        services.AddProvision();
        services.AddBuilds();
        // Proxmox: the host an admin saved in Settings, else the configured one, else a registered stand-in (only the
        // demo assembly registers one); chosen in ConnectProxmoxAsync, once the database is there.
        services.AddProxmox();
        services.AddSettings();
        services.AddProjects();
        services.AddDeploy();
        services.AddHomeAssistant();
        services.AddHomeAssistantSetup();
        services.AddAddressing();
        services.AddUpgrades();
        services.AddHandover();
        services.AddPlatform();
        services.AddDashboard();
        services.AddAlerts();
        services.AddGuestBackups();

        // Request validators: one per request shape, beside its request type; WithValidation runs them.
        services.AddValidatorsFromAssemblyContaining<CreateProjectValidator>(ServiceLifetime.Singleton);

        // The web pipeline's own pieces.
        services.AddJsonDefaults();
        services.AddProblemDetails();
        services.AddRequestBodyLimits();
        return builder;
    }

    /// <summary>
    /// Checks the configuration and brings the database schema up to date. Problems are printed as one
    /// line each and the process should exit: a misconfigured orchestrator must not half-start.
    /// </summary>
    public static async Task<bool> PrepareAsync(this WebApplication app)
    {
        try
        {
            _ = app.Services.GetRequiredService<IOptions<StorageOptions>>().Value;
            _ = app.Services.GetRequiredService<IOptions<ProxmoxOptions>>().Value;
            _ = app.Services.GetRequiredService<IOptions<HostTriggerOptions>>().Value;
            _ = app.Services.GetRequiredService<IOptions<PlatformOptions>>().Value;
            _ = app.Services.GetRequiredService<IOptions<AuthOptions>>().Value;
            _ = app.Services.GetRequiredService<IOptions<TlsOptions>>().Value;
            _ = app.Services.GetRequiredService<IOptions<ProvisionOptions>>().Value;
            _ = app.Services.GetRequiredService<IOptions<HomeAssistantOptions>>().Value;
            _ = app.Services.GetRequiredService<IOptions<AddressingOptions>>().Value;
            _ = app.Services.GetRequiredService<IOptions<DeployOptions>>().Value;
            _ = app.Services.GetRequiredService<IOptions<AlertsOptions>>().Value;
            _ = app.Services.GetRequiredService<IOptions<GuestBackupsOptions>>().Value;
        }
        catch (OptionsValidationException ex)
        {
            foreach (var failure in ex.Failures)
            {
                await Console.Error.WriteLineAsync($"configuration error: {failure}");
            }

            return false;
        }

        var listenProblems = ListenUrls.Problems(app.Configuration, app.Services.GetRequiredService<IOptions<TlsOptions>>().Value).ToList();
        foreach (var problem in listenProblems)
        {
            await Console.Error.WriteLineAsync($"configuration error: {problem}");
        }

        if (listenProblems.Count > 0)
        {
            return false;
        }

        try
        {
            app.Services.GetRequiredService<TlsCertificate>().Load();
        }
        catch (TlsCertificateException ex)
        {
            await Console.Error.WriteLineAsync($"tls error: {ex.Message}");
            return false;
        }

        try
        {
            await app.Services.GetRequiredService<Migrator>().MigrateAsync();
            // Camera passwords saved before they went to the secret store leave projects.settings_json.
            await app.Services.GetRequiredService<CameraCredentials>().MoveStoredPasswordsAsync(CancellationToken.None);
        }
        catch (SchemaTooNewException ex)
        {
            await Console.Error.WriteLineAsync($"database error: {ex.Message}");
            return false;
        }

        return true;
    }

    /// <summary>The one line the product prints when it has no Proxmox host to serve against.</summary>
    public const string NoProxmoxHostError =
        "configuration error: no Proxmox host: set Proxmox:Url (CTRLABLE_PROXMOX__URL), Proxmox:TokenId and Proxmox:CertificateFingerprint, and store the token secret with --"
        + SetTokenSecretCommand.Switch + " (install.sh does all of this); for a demo without Proxmox run scripts/run.sh";

    /// <summary>
    /// Chooses the Proxmox host (saved settings, configuration, or a registered <see cref="IProxmoxStandIn"/>); false with
    /// one line on stderr when it cannot.
    /// </summary>
    public static async Task<bool> ConnectProxmoxAsync(this WebApplication app)
    {
        try
        {
            if (!await app.Services.GetRequiredService<ProxmoxSettingsService>().UseSavedOrConfiguredAsync(app.Lifetime.ApplicationStopping))
            {
                if (app.Services.GetService<IProxmoxStandIn>() is not { } standIn)
                {
                    await Console.Error.WriteLineAsync(NoProxmoxHostError);
                    return false;
                }

                app.Services.GetRequiredService<ProxmoxConnections>().Use(await standIn.StartAsync(app, app.Lifetime.ApplicationStopping));
            }
        }
        catch (ProxmoxSettingsException ex)
        {
            await Console.Error.WriteLineAsync($"configuration error: {ex.Message}");
            return false;
        }

        return true;
    }
}
