using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ctrlable.Provisioner.Proxmox;

/// <summary>Proxmox's JSON is Perl's: numbers may be strings ("100"), booleans are 0/1.</summary>
public static class ProxmoxJson
{
    public static JsonSerializerOptions Options { get; } = Create();

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            NumberHandling = JsonNumberHandling.AllowReadingFromString,
            PropertyNameCaseInsensitive = true,
        };
        options.Converters.Add(new FlexibleBoolConverter());
        return options;
    }

    private sealed class FlexibleBoolConverter : JsonConverter<bool>
    {
        public override bool Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
        {
            JsonTokenType.True => true,
            JsonTokenType.False => false,
            JsonTokenType.Number => reader.GetDouble() != 0,
            JsonTokenType.String => reader.GetString() is "1" or "true" or "on" or "yes",
            _ => throw new JsonException($"Cannot read {reader.TokenType} as a boolean."),
        };

        public override void Write(Utf8JsonWriter writer, bool value, JsonSerializerOptions options) => writer.WriteNumberValue(value ? 1 : 0);
    }
}
