using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Deploy;

public static class DeployRegistration
{
    /// <summary>The deploy pipeline (its settings checked at start); MapDeploy serves it.</summary>
    public static IServiceCollection AddDeploy(this IServiceCollection services)
    {
        services.AddSingleton<IValidateOptions<DeployOptions>, DeployOptionsValidator>();
        services.AddOptions<DeployOptions>().BindConfiguration(DeployOptions.Section).ValidateOnStart();
        services.AddSingleton<MacAllocator>();
        services.AddSingleton<GuestOwnership>();
        services.AddSingleton<GuestLocator>();
        services.AddSingleton<IGuestLocator>(sp => sp.GetRequiredService<GuestLocator>());
        services.AddSingleton<IDeployStepObserver, NoStepObserver>();
        services.AddSingleton<InstanceSteps>();
        services.AddSingleton<ClusterLook>();
        services.AddSingleton<VmidAllocator>();
        services.AddSingleton<GuestTasks>();
        services.AddSingleton<CloneStep>();
        services.AddSingleton<StartStep>();
        services.AddSingleton<FirstBootWait>();
        services.AddSingleton<DeleteStep>();
        services.AddSingleton<DeployPipeline>();
        services.AddSingleton<DeployRunner>();
        services.AddSingleton<IPipelineQueue>(sp => sp.GetRequiredService<DeployRunner>());
        services.AddHostedService(sp => sp.GetRequiredService<DeployRunner>());
        services.AddSingleton<DeployService>();
        return services;
    }

    /// <summary>DHCP sites: guests followed to the addresses their leases give them, and re-wired (settings checked at start).</summary>
    public static IServiceCollection AddAddressing(this IServiceCollection services)
    {
        services.AddSingleton<IValidateOptions<AddressingOptions>, AddressingOptionsValidator>();
        services.AddOptions<AddressingOptions>().BindConfiguration(AddressingOptions.Section).ValidateOnStart();
        services.AddSingleton<AddressFollower>();
        services.AddHostedService(sp => sp.GetRequiredService<AddressFollower>());
        return services;
    }
}
