using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ctrlable.HaSim.State;

namespace Ctrlable.HaSim.Backups;

/// <summary>
/// A Supervisor backup as HAOS writes it (and the onboarding restore reads it): an uncompressed tar holding
/// <c>./backup.json</c> (slug, name, date, type, protected, homeassistant {version, exclude_database}, folders, addons,
/// extra) and <c>./homeassistant.tar.gz</c>, a gzip tar of <c>./homeassistant.json</c> plus the <c>/config</c> tree
/// under <c>data/</c> (<c>data/.storage/core.uuid</c>, <c>data/.storage/auth</c>, …). When <c>protected</c> is true the
/// inner archive is SecureTar-encrypted with the backup password (<see cref="SecureTar"/>).
/// </summary>
public sealed record HaBackup(JsonObject Metadata, SortedDictionary<string, byte[]> ConfigFiles)
{
    /// <summary>The other parts of the outer tar (an add-on's <c>&lt;slug&gt;.tar.gz</c>, a folder's), kept byte for byte.</summary>
    public IReadOnlyDictionary<string, byte[]> Parts { get; init; } = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);

    public string Slug => Metadata["slug"]?.GetValue<string>() ?? throw new InvalidDataException("backup.json has no slug");

    public string Name => Metadata["name"]?.GetValue<string>() ?? Slug;

    public bool Protected => Metadata["protected"]?.GetValue<bool>() ?? false;

    public bool DatabaseIncluded => !(Metadata["homeassistant"]?["exclude_database"]?.GetValue<bool>() ?? false);

    public string? HomeAssistantVersion => Metadata["homeassistant"]?["version"]?.GetValue<string>();

    /// <summary>Reads backup.json only (no password needed), as Supervisor does on upload.</summary>
    public static JsonObject ReadMetadata(byte[] tar)
    {
        var (metadata, _, _) = ReadOuter(tar);
        return metadata;
    }

    /// <summary>Reads the whole backup; a protected one needs its password (<see cref="HaBackupPasswordException"/>).</summary>
    public static HaBackup Read(byte[] tar, string? password)
    {
        var (metadata, inner, parts) = ReadOuter(tar);
        if (inner is null)
        {
            throw new InvalidDataException("the backup has no homeassistant.tar.gz");
        }

        if (SecureTar.IsEncrypted(inner))
        {
            if (password is null)
            {
                throw new HaBackupPasswordException("The backup is protected and no password was given");
            }

            inner = SecureTar.Decrypt(inner, password);
        }

        var files = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        using var gzip = new GZipStream(new MemoryStream(inner), CompressionMode.Decompress);
        using var reader = new TarReader(gzip);
        while (reader.GetNextEntry(copyData: true) is { } entry)
        {
            var name = entry.Name.StartsWith("./", StringComparison.Ordinal) ? entry.Name[2..] : entry.Name;
            if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile && name.StartsWith("data/", StringComparison.Ordinal))
            {
                using var data = new MemoryStream();
                entry.DataStream?.CopyTo(data);
                files[name["data/".Length..]] = data.ToArray();
            }
        }

        return new HaBackup(metadata, files) { Parts = parts };
    }

    /// <summary>Writes the tar; <paramref name="password"/> protects it (and sets <c>protected</c>).</summary>
    public byte[] Write(string? password = null)
    {
        var metadata = (JsonObject)Metadata.DeepClone();
        metadata["protected"] = password is not null;
        metadata["crypto"] = password is null ? null : "aes128";

        using var innerTar = new MemoryStream();
        using (var gzip = new GZipStream(innerTar, CompressionLevel.Fastest, leaveOpen: true))
        using (var writer = new TarWriter(gzip, TarEntryFormat.Pax))
        {
            AddFile(writer, "./homeassistant.json", Encoding.UTF8.GetBytes(new JsonObject
            {
                ["version"] = HomeAssistantVersion,
                ["watchdog"] = true,
                ["port"] = 8123,
                ["ssl"] = false,
                ["audio_input"] = null,
                ["audio_output"] = null,
            }.ToJsonString()));
            foreach (var (path, bytes) in ConfigFiles)
            {
                AddFile(writer, "data/" + path, bytes);
            }
        }

        var inner = innerTar.ToArray();
        if (password is not null)
        {
            inner = SecureTar.Encrypt(inner, password);
        }

        metadata["homeassistant"]!["size"] = Math.Round(inner.Length / 1024.0 / 1024.0, 3);
        using var outer = new MemoryStream();
        using (var writer = new TarWriter(outer, TarEntryFormat.Pax, leaveOpen: true))
        {
            AddFile(writer, "./backup.json", Encoding.UTF8.GetBytes(metadata.ToJsonString(new JsonSerializerOptions { WriteIndented = true })));
            AddFile(writer, "./homeassistant.tar.gz", inner);
            foreach (var (name, bytes) in Parts)
            {
                AddFile(writer, "./" + name, bytes);
            }
        }

        return outer.ToArray();
    }

    /// <summary>The same backup with the <c>/config</c> files replaced (e.g. without <c>.storage/core.uuid</c>).</summary>
    public HaBackup WithConfig(HaConfig config) => this with { ConfigFiles = config.ToFiles() };

    /// <summary>A backup.json for a partial backup of Home Assistant only (no add-ons, no folders).</summary>
    public static JsonObject NewMetadata(string slug, string name, DateTimeOffset date, string homeAssistantVersion, bool databaseIncluded, string? instanceId) => new()
    {
        ["slug"] = slug,
        ["version"] = 2,
        ["name"] = name,
        ["date"] = date.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.ffffff+00:00", System.Globalization.CultureInfo.InvariantCulture),
        ["type"] = "partial",
        ["supervisor_version"] = "2025.04.1",
        ["extra"] = new JsonObject
        {
            ["instance_id"] = instanceId,
            ["with_automatic_settings"] = false,
        },
        ["compressed"] = true,
        ["protected"] = false,
        ["crypto"] = null,
        ["homeassistant"] = new JsonObject
        {
            ["version"] = homeAssistantVersion,
            ["exclude_database"] = !databaseIncluded,
            ["size"] = 0.0,
        },
        ["folders"] = new JsonArray(),
        ["addons"] = new JsonArray(),
        ["repositories"] = new JsonArray(),
    };

    private static (JsonObject Metadata, byte[]? Inner, SortedDictionary<string, byte[]> Parts) ReadOuter(byte[] tar)
    {
        JsonObject? metadata = null;
        byte[]? inner = null;
        var parts = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        try
        {
            using var reader = new TarReader(new MemoryStream(tar));
            while (reader.GetNextEntry(copyData: true) is { } entry)
            {
                var name = entry.Name.StartsWith("./", StringComparison.Ordinal) ? entry.Name[2..] : entry.Name;
                if (entry.DataStream is null)
                {
                    continue;
                }

                using var data = new MemoryStream();
                entry.DataStream.CopyTo(data);
                if (name == "backup.json")
                {
                    metadata = JsonNode.Parse(data.ToArray())?.AsObject();
                }
                else if (name == "homeassistant.tar.gz")
                {
                    inner = data.ToArray();
                }
                else
                {
                    parts[name] = data.ToArray();
                }
            }
        }
        catch (Exception e) when (e is FormatException or JsonException or EndOfStreamException or InvalidOperationException)
        {
            throw new InvalidDataException($"not a backup tar: {e.Message}", e);
        }

        return (metadata ?? throw new InvalidDataException("the tar has no backup.json"), inner, parts);
    }

    private static void AddFile(TarWriter writer, string name, byte[] bytes)
    {
        var entry = new PaxTarEntry(TarEntryType.RegularFile, name)
        {
            DataStream = new MemoryStream(bytes),
            Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
            ModificationTime = DateTimeOffset.UnixEpoch.AddYears(56),
        };
        writer.WriteEntry(entry);
    }
}
