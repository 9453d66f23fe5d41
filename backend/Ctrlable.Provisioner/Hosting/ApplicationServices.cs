using System.Text.Json;
using System.Text.Json.Serialization;
using Ctrlable.Provisioner.Build;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Dashboard;
using Ctrlable.Provisioner.Deploy;
using Ctrlable.Provisioner.Handover;
using Ctrlable.Provisioner.HomeAssistant;
using Ctrlable.Provisioner.HomeAssistant.Setup;
using Ctrlable.Provisioner.Manifest;
using Ctrlable.Provisioner.Platform;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.Releases;
using Ctrlable.Provisioner.Secrets;
using Ctrlable.Provisioner.Settings;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tls;
using FluentValidation;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Hosting;

public static class ApplicationServices
{
    /// <summary>Every service of the orchestrator, registered in one place.</summary>
    public static IHostApplicationBuilder AddApplicationServices(this IHostApplicationBuilder builder)
    {
        // Settings: appsettings.json, then CTRLABLE_* environment variables (e.g. CTRLABLE_PROXMOX__URL).
        builder.Configuration.AddEnvironmentVariables("CTRLABLE_");
        builder.Services.AddSingleton<ConfigValidator>();
        builder.Services.AddSingleton<IValidateOptions<StorageOptions>>(sp => sp.GetRequiredService<ConfigValidator>());
        builder.Services.AddSingleton<IValidateOptions<ProxmoxOptions>>(sp => sp.GetRequiredService<ConfigValidator>());
        builder.Services.AddSingleton<IValidateOptions<HostTriggerOptions>>(sp => sp.GetRequiredService<ConfigValidator>());
        builder.Services.AddSingleton<IValidateOptions<PlatformOptions>>(sp => sp.GetRequiredService<ConfigValidator>());
        builder.Services.AddSingleton<IValidateOptions<AuthOptions>>(sp => sp.GetRequiredService<ConfigValidator>());
        builder.Services.AddSingleton<IValidateOptions<TlsOptions>>(sp => sp.GetRequiredService<ConfigValidator>());
        builder.Services.AddOptions<StorageOptions>().BindConfiguration(StorageOptions.Section).ValidateOnStart();
        builder.Services.AddOptions<ProxmoxOptions>().BindConfiguration(ProxmoxOptions.Section).ValidateOnStart();
        builder.Services.AddOptions<HostTriggerOptions>().BindConfiguration(HostTriggerOptions.Section).ValidateOnStart();
        builder.Services.AddOptions<PlatformOptions>().BindConfiguration(PlatformOptions.Section).ValidateOnStart();
        builder.Services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.Section).ValidateOnStart();
        builder.Services.AddOptions<TlsOptions>().BindConfiguration(TlsOptions.Section).ValidateOnStart();

        builder.Services.AddSingleton(TimeProvider.System);

        // State: one SQLite file in the data directory.
        TypeHandlers.Register();
        builder.Services.AddSingleton(sp =>
        {
            var storage = sp.GetRequiredService<IOptions<StorageOptions>>().Value;
            var directory = Path.GetFullPath(storage.DataDirectory);
            Directory.CreateDirectory(directory);
            return new Database(Path.Combine(directory, "provisioner.db"));
        });
        builder.Services.AddSingleton<Migrator>();
        builder.Services.AddSingleton<ReleaseRepository>();

        // Secrets at rest (Data Protection, key ring in <data>/keys) and the HTTPS certificate (<data>/tls).
        builder.Services.AddSecrets();
        builder.Services.AddTls();

        // Manifests: every releases/*.yaml.
        builder.Services.AddSingleton(sp => new ReleaseCatalog(ResolveReleasesDirectory(
            sp.GetRequiredService<IOptions<StorageOptions>>().Value, sp.GetRequiredService<IHostEnvironment>())));
        builder.Services.AddSingleton<ReleaseService>();
        builder.Services.AddSingleton<InstanceRepository>();
        // Instance state has one owner (InstanceTransitions) and one stream of its changes (InstanceChanges).
        builder.Services.AddSingleton<InstanceChanges>();
        builder.Services.AddSingleton<InstanceTransitions>();
        builder.Services.AddSingleton<ReleaseSecrets>();
        // Home Assistant base backups: the file per release in <data>/base-backups, checksum recorded, credentials encrypted.
        builder.Services.AddSingleton<BaseBackupRepository>();
        builder.Services.AddSingleton<BaseBackupStore>();

        // First boot: assignments, the provision endpoints' service, instance state notifications.
        builder.Services.AddProvision();

        // Builds: the restricted SSH host trigger, build records, live progress.
        builder.Services.AddSingleton<IHostTrigger, SshHostTrigger>();
        builder.Services.AddSingleton<BuildRepository>();
        builder.Services.AddSingleton<BuildLiveRegistry>();
        builder.Services.AddSingleton<BuildService>();
        builder.Services.AddSingleton<IValidator<StartBuildRequest>, StartBuildRequestValidator>();
        builder.Services.AddSingleton<IValidator<CheckBuildRequest>, CheckBuildRequestValidator>();
        builder.Services.AddSingleton<CheckTickets>();
        builder.Services.AddSingleton<BuildCheckService>();
        builder.Services.AddHostedService<BuildRecovery>();
        // On the way out a running build is failed and recorded before the host goes (StopAsync waits for it).
        builder.Services.AddHostedService(sp => sp.GetRequiredService<BuildService>());

        // Proxmox: the host an admin saved in Settings, else the configured one, else a registered stand-in (only the
        // demo assembly registers one); chosen in ConnectProxmoxAsync, once the database is there.
        builder.Services.AddSingleton<ProxmoxConnections>();
        builder.Services.AddSingleton<ProxmoxSettingsRepository>();
        builder.Services.AddSingleton<ProxmoxSettingsService>();
        builder.Services.AddSingleton<IValidator<SaveProxmoxSettingsRequest>, SaveProxmoxSettingsValidator>();
        builder.Services.AddSingleton<BuildKeySettings>();
        builder.Services.AddSingleton<IValidator<SetBuildKeyPassphraseRequest>, SetBuildKeyPassphraseValidator>();
        builder.Services.AddProxmoxHttpClient();

        // Projects and the deploy pipeline.
        builder.Services.AddSingleton<IValidateOptions<DeployOptions>, DeployOptionsValidator>();
        builder.Services.AddOptions<DeployOptions>().BindConfiguration(DeployOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidator<CreateProjectRequest>, CreateProjectValidator>();
        builder.Services.AddSingleton<IValidator<UpdateProjectRequest>, UpdateProjectValidator>();
        builder.Services.AddSingleton<CameraCredentials>();
        builder.Services.AddSingleton<MacAllocator>();
        builder.Services.AddSingleton<AddressAllocator>();
        builder.Services.AddSingleton<SiteAddresses>();
        builder.Services.AddSingleton<GuestOwnership>();
        builder.Services.AddSingleton<IDeployStepObserver, NoStepObserver>();
        builder.Services.AddSingleton<InstanceSteps>();
        builder.Services.AddSingleton<VmidAllocator>();
        builder.Services.AddSingleton<GuestTasks>();
        builder.Services.AddSingleton<CloneStep>();
        builder.Services.AddSingleton<StartStep>();
        builder.Services.AddSingleton<FirstBootWait>();
        builder.Services.AddSingleton<DeleteStep>();
        builder.Services.AddSingleton<DeployPipeline>();
        builder.Services.AddSingleton<DeployRunner>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DeployRunner>());
        builder.Services.AddSingleton<DeployService>();

        // Home Assistant of ctrlable-pro guests: its client, the deploy steps that drive it, later wiring.
        builder.Services.AddSingleton<IValidateOptions<HomeAssistantOptions>, HomeAssistantOptionsValidator>();
        builder.Services.AddOptions<HomeAssistantOptions>().BindConfiguration(HomeAssistantOptions.Section).ValidateOnStart();
        builder.Services.AddHomeAssistantHttpClients();
        builder.Services.AddSingleton<HomeAssistantRepository>();
        builder.Services.AddSingleton<HomeAssistantCredentials>();
        builder.Services.AddSingleton<PhaseSupport>();
        builder.Services.AddSingleton<LocatePhase>();
        builder.Services.AddSingleton<PreparePhase>();
        builder.Services.AddSingleton<RestorePhase>();
        builder.Services.AddSingleton<SecurePhase>();
        builder.Services.AddSingleton<HostConfiguration>();
        builder.Services.AddSingleton<ConfigFlows>();
        builder.Services.AddSingleton<WirePhase>();
        builder.Services.AddSingleton<HomeAssistantSetup>();
        builder.Services.AddHostedService<HomeAssistantRewiring>();

        // DHCP sites: guests followed to the addresses their leases give them, and re-wired.
        builder.Services.AddSingleton<IValidateOptions<AddressingOptions>, AddressingOptionsValidator>();
        builder.Services.AddOptions<AddressingOptions>().BindConfiguration(AddressingOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<AddressFollower>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AddressFollower>());

        // Credentials hand-over: the site's secrets listed, revealed with the admin's password, rotated in Home Assistant.
        builder.Services.AddHandover();

        // Platform report-up: enrolment, the outbox sender, the platform's HTTP client.
        builder.Services.AddPlatform();
        builder.Services.AddPlatformHttpClient();

        // Dashboard: one shared Proxmox poll for every viewer.
        builder.Services.AddOptions<DashboardOptions>().BindConfiguration(DashboardOptions.Section);
        builder.Services.AddSingleton<DashboardService>();
        builder.Services.AddAppHealthHttpClient();

        // JSON on the wire: camelCase, enums as kebab-case strings ("not-built", "lxc").
        builder.Services.ConfigureHttpJsonOptions(o => ConfigureJson(o.SerializerOptions));
        builder.Services.Configure<Microsoft.AspNetCore.Mvc.JsonOptions>(o => ConfigureJson(o.JsonSerializerOptions));

        builder.Services.AddProblemDetails();
        builder.Services.AddRequestBodyLimits();
        return builder;
    }

    public static void ConfigureJson(JsonSerializerOptions options) =>
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower));

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

    private static string ResolveReleasesDirectory(StorageOptions storage, IHostEnvironment environment)
    {
        if (storage.ReleasesDirectory.Length > 0)
        {
            return Path.GetFullPath(storage.ReleasesDirectory);
        }

        // Development runs from backend/Ctrlable.Provisioner; the bundle ships releases/ beside the binary.
        for (var dir = new DirectoryInfo(environment.ContentRootPath); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "releases");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        return Path.Combine(environment.ContentRootPath, "releases");
    }
}
