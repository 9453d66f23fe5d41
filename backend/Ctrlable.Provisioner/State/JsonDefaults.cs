using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ctrlable.Provisioner.State;

/// <summary>
/// JSON as the orchestrator writes it, on the wire and in the database: camelCase, enums as kebab-case strings
/// ("not-built", "lxc"). A leaf, so repositories and tests use it without reaching into the host's setup.
/// </summary>
public static class JsonDefaults
{
    public static void Configure(JsonSerializerOptions options) =>
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower));

    /// <summary>Minimal API and MVC bodies both use <see cref="Configure"/>.</summary>
    public static IServiceCollection AddJsonDefaults(this IServiceCollection services)
    {
        services.ConfigureHttpJsonOptions(o => Configure(o.SerializerOptions));
        services.Configure<Microsoft.AspNetCore.Mvc.JsonOptions>(o => Configure(o.JsonSerializerOptions));
        return services;
    }
}
