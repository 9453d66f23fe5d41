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

    /// <summary>
    /// Minimal API bodies use <see cref="Configure"/> (the OpenAPI document's MVC options too: Hosting/ApiDocumentation,
    /// which sets them only when the document is first asked for, so that MVC is not loaded to serve).
    /// </summary>
    public static IServiceCollection AddJsonDefaults(this IServiceCollection services) =>
        services.ConfigureHttpJsonOptions(o => Configure(o.SerializerOptions));
}
