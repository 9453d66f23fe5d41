using Ctrlable.Provisioner.Config;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.State;

public static class StateRegistration
{
    /// <summary>State: one SQLite file in the data directory (its settings checked at start), its schema and repositories.</summary>
    public static IServiceCollection AddState(this IServiceCollection services)
    {
        services.AddConfigOptions<StorageOptions>(StorageOptions.Section);
        TypeHandlers.Register();
        services.AddSingleton(sp =>
        {
            var storage = sp.GetRequiredService<IOptions<StorageOptions>>().Value;
            var directory = Path.GetFullPath(storage.DataDirectory);
            Directory.CreateDirectory(directory);
            return new Database(Path.Combine(directory, Database.FileName));
        });
        services.AddSingleton<Migrator>();
        services.AddSingleton<ReleaseRepository>();
        services.AddSingleton<InstanceRepository>();
        // Instance state has one owner (InstanceTransitions) and one stream of its changes (InstanceChanges).
        services.AddSingleton<InstanceChanges>();
        services.AddSingleton<InstanceTransitions>();
        services.AddSingleton<BaseBackupRepository>();
        return services;
    }
}
