namespace Ctrlable.Provisioner.HomeAssistant.Setup;

public static class SetupRegistration
{
    /// <summary>The deploy phases that set up Home Assistant on a ctrlable-pro guest, and its later re-wiring.</summary>
    public static IServiceCollection AddHomeAssistantSetup(this IServiceCollection services)
    {
        services.AddSingleton<HomeAssistantRepository>();
        services.AddSingleton<HomeAssistantCredentials>();
        services.AddSingleton<PhaseSupport>();
        services.AddSingleton<LocatePhase>();
        services.AddSingleton<PreparePhase>();
        services.AddSingleton<RestorePhase>();
        services.AddSingleton<SecurePhase>();
        services.AddSingleton<HostConfiguration>();
        services.AddSingleton<ConfigFlows>();
        services.AddSingleton<WirePhase>();
        services.AddSingleton<HomeAssistantSetup>();
        services.AddHostedService<HomeAssistantRewiring>();
        return services;
    }
}
