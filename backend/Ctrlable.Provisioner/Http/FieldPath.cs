using System.Text.Json;

namespace Ctrlable.Provisioner.Http;

/// <summary>
/// Field errors are keyed by the field's path in the JSON the client sent, named as the API's JSON names it
/// (<c>settings.cameras[0].streamUrl</c>), whichever validator or service found them, so an integrator can match a key
/// to the body without knowing the C# names.
/// </summary>
public static class FieldPath
{
    /// <summary><c>Settings.Cameras[0].StreamUrl</c> → <c>settings.cameras[0].streamUrl</c>.</summary>
    public static string Of(string propertyPath) =>
        string.Join('.', propertyPath.Split('.').Select(JsonNamingPolicy.CamelCase.ConvertName));

    /// <summary>Every key as <see cref="Of"/>; the messages of keys that name the same field are kept together.</summary>
    public static Dictionary<string, string[]> Keyed(IEnumerable<KeyValuePair<string, string[]>> errors) =>
        errors.GroupBy(e => Of(e.Key), StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.SelectMany(e => e.Value).ToArray(), StringComparer.Ordinal);
}
