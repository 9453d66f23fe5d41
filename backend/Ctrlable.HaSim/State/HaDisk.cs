using System.Text.Json;

namespace Ctrlable.HaSim.State;

/// <summary>
/// The part of the VM's disk the emulator keeps between runs: /config (<see cref="HaConfig.ToFiles"/>) as one JSON file,
/// replaced atomically. Its presence means Core was installed and ran on this disk.
/// </summary>
internal sealed class HaDisk(string directory)
{
    private readonly Lock _sync = new();
    private string? _written;

    private string FilePath => Path.Combine(directory, "config.json");

    private string HostPath => Path.Combine(directory, "host.json");

    public HaConfig? Load()
    {
        if (!File.Exists(FilePath))
        {
            return null;
        }

        var text = File.ReadAllText(FilePath);
        var files = JsonSerializer.Deserialize<SortedDictionary<string, byte[]>>(text)
            ?? throw new InvalidDataException($"{FilePath} holds no /config");
        lock (_sync)
        {
            _written = text;
        }

        return HaConfig.FromFiles(files);
    }

    /// <summary>Writes /config unless the disk already holds exactly this.</summary>
    public void Save(SortedDictionary<string, byte[]> files)
    {
        var text = JsonSerializer.Serialize(files);
        lock (_sync)
        {
            if (text == _written)
            {
                return;
            }

            Directory.CreateDirectory(directory);
            var temporary = FilePath + ".tmp";
            File.WriteAllText(temporary, text);
            File.Move(temporary, FilePath, overwrite: true);
            _written = text;
        }
    }

    private string VersionsPath => Path.Combine(directory, "versions.json");

    /// <summary>Core's and the OS's versions after an update; null when never updated on this disk.</summary>
    public HaVersions? LoadVersions() =>
        File.Exists(VersionsPath) ? JsonSerializer.Deserialize<HaVersions>(File.ReadAllText(VersionsPath)) : null;

    public void SaveVersions(HaVersions versions)
    {
        lock (_sync)
        {
            Directory.CreateDirectory(directory);
            var temporary = VersionsPath + ".tmp";
            File.WriteAllText(temporary, JsonSerializer.Serialize(versions));
            File.Move(temporary, VersionsPath, overwrite: true);
        }
    }

    /// <summary>The host settings Supervisor changed (host name, network); null when none were changed on this disk.</summary>
    public HaHostSettings? LoadHost() =>
        File.Exists(HostPath) ? JsonSerializer.Deserialize<HaHostSettings>(File.ReadAllText(HostPath)) : null;

    public void SaveHost(HaHostSettings host)
    {
        lock (_sync)
        {
            Directory.CreateDirectory(directory);
            var temporary = HostPath + ".tmp";
            File.WriteAllText(temporary, JsonSerializer.Serialize(host));
            File.Move(temporary, HostPath, overwrite: true);
        }
    }
}
