using Ctrlable.Provisioner.Http;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.HomeAssistant;

public static class HomeAssistantRegistration
{
    /// <summary>
    /// Home Assistant of ctrlable-pro guests: its settings (checked at start) and its client. The deploy phases that
    /// drive it register in Setup/, which depends on this and not the other way round.
    /// </summary>
    public static IServiceCollection AddHomeAssistant(this IServiceCollection services)
    {
        services.AddSingleton<IValidateOptions<HomeAssistantOptions>, HomeAssistantOptionsValidator>();
        services.AddOptions<HomeAssistantOptions>().BindConfiguration(HomeAssistantOptions.Section).ValidateOnStart();
        services.AddHomeAssistantHttpClients();
        return services;
    }

    /// <summary>
    /// Home Assistant on the sites' guests: plain HTTP on the LAN, never following a redirect (a POST redirected from
    /// 8123 to 80 would arrive as a GET). No retries here: the deploy flow polls and resumes each step itself, and
    /// every attempt is bounded. The upload client allows a long transfer for a large base backup.
    /// </summary>
    private static IServiceCollection AddHomeAssistantHttpClients(this IServiceCollection services)
    {
        services.AddSingleton<HomeAssistantClient>();
        foreach (var (name, upload) in new[] { (HomeAssistantClient.HttpClientName, false), (HomeAssistantClient.UploadClientName, true) })
        {
            services.AddHttpClient(name, http => http.Timeout = Timeout.InfiniteTimeSpan)
                .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
                {
                    AllowAutoRedirect = false,
                    // Addresses change when a guest restarts; pooled connections to a restarted Core are dead anyway.
                    PooledConnectionLifetime = TimeSpan.FromMinutes(1),
                    ConnectTimeout = TimeSpan.FromSeconds(5),
                    UseProxy = false,
                })
                .WithAttemptTimeout(name, sp =>
                {
                    var options = sp.GetRequiredService<IOptions<HomeAssistantOptions>>().Value;
                    return TimeSpan.FromSeconds(upload ? options.UploadTimeoutSeconds : options.RequestTimeoutSeconds);
                });
        }

        return services;
    }
}
