using System.Text.Json;
using System.Text.Json.Serialization;
using Ctrlable.Provisioner.Build;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Dashboard;
using Ctrlable.Provisioner.Deploy;
using Ctrlable.Provisioner.Manifest;
using Ctrlable.Provisioner.Platform;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.Releases;
using Ctrlable.Provisioner.Secrets;
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
        builder.Services.AddSingleton<ReleaseSecrets>();

        // First boot: assignments, the provision endpoints' service, instance state notifications.
        builder.Services.AddProvision();

        // Builds: the restricted SSH host trigger, build records, live progress.
        builder.Services.AddSingleton<IHostTrigger, SshHostTrigger>();
        builder.Services.AddSingleton<BuildRepository>();
        builder.Services.AddSingleton<BuildLiveRegistry>();
        builder.Services.AddSingleton<BuildService>();
        builder.Services.AddHostedService<BuildRecovery>();

        // Proxmox: the configured host, or the simulated one (demo mode) when none is configured.
        builder.Services.AddSingleton<SimulatedProxmoxHost>();
        builder.Services.AddSingleton(sp =>
        {
            var proxmox = sp.GetRequiredService<IOptions<ProxmoxOptions>>().Value;
            return proxmox.IsConfigured
                ? new ProxmoxConnection(new Uri(proxmox.Url), proxmox.TokenId, proxmox.TokenSecret, proxmox.CertificateFingerprint, simulated: false)
                : sp.GetRequiredService<SimulatedProxmoxHost>().Connection;
        });
        builder.Services.AddProxmoxHttpClient();

        // Projects and the deploy pipeline.
        builder.Services.AddOptions<DeployOptions>().BindConfiguration(DeployOptions.Section);
        builder.Services.AddSingleton<IValidator<CreateProjectRequest>, CreateProjectValidator>();
        builder.Services.AddSingleton<IValidator<UpdateProjectRequest>, UpdateProjectValidator>();
        builder.Services.AddSingleton<MacAllocator>();
        builder.Services.AddSingleton<DeployEvents>();
        builder.Services.AddSingleton<IDeployStepObserver, NoStepObserver>();
        builder.Services.AddSingleton<DeployPipeline>();
        builder.Services.AddSingleton<DeployRunner>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DeployRunner>());
        builder.Services.AddSingleton<DeployService>();

        // Platform report-up: enrolment, the outbox sender, the platform's HTTP client.
        builder.Services.AddPlatform();
        builder.Services.AddPlatformHttpClient();

        // Dashboard: one shared Proxmox poll for every viewer.
        builder.Services.AddOptions<DashboardOptions>().BindConfiguration(DashboardOptions.Section);
        builder.Services.AddSingleton<DashboardService>();

        // JSON on the wire: camelCase, enums as kebab-case strings ("not-built", "lxc").
        builder.Services.ConfigureHttpJsonOptions(o => ConfigureJson(o.SerializerOptions));
        builder.Services.Configure<Microsoft.AspNetCore.Mvc.JsonOptions>(o => ConfigureJson(o.JsonSerializerOptions));

        builder.Services.AddProblemDetails();
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
        }
        catch (SchemaTooNewException ex)
        {
            await Console.Error.WriteLineAsync($"database error: {ex.Message}");
            return false;
        }

        if (!app.Services.GetRequiredService<IOptions<ProxmoxOptions>>().Value.IsConfigured)
        {
            SimulatedProxmoxHost.AddGuestListener(app);
            await app.Services.GetRequiredService<SimulatedProxmoxHost>().StartAsync(app.Lifetime.ApplicationStopping);
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
