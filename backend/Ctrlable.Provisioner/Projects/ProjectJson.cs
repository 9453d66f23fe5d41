using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ctrlable.Provisioner.Projects;

/// <summary>How site settings are stored in projects.settings_json: the same shape as on the API.</summary>
public static class ProjectJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };
}
