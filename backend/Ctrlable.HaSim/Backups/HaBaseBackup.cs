using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Ctrlable.HaSim.State;

namespace Ctrlable.HaSim.Backups;

/// <summary>What a base backup made on a set-up instance contains.</summary>
public sealed record HaBaseBackupSpec(string AdminUsername, string AdminPassword)
{
    public string AdminName { get; init; } = "Ctrlable Admin";

    public string Name { get; init; } = "Ctrlable base";

    /// <summary>Protects the backup (SecureTar); null = unencrypted, as the research recommends for a base backup.</summary>
    public string? Password { get; init; }

    /// <summary>The base instance's UUID; null = a random one.</summary>
    public string? CoreUuid { get; init; }

    public string HomeAssistantVersion { get; init; } = "2025.4.4";

    public bool DatabaseIncluded { get; init; } = true;

    /// <summary>Ships <c>custom_components/frigate</c> (the Frigate integration cannot be installed unattended).</summary>
    public bool IncludeFrigate { get; init; } = true;

    /// <summary>Includes the Mosquitto broker add-on (<c>core_mosquitto</c>: listed in backup.json, its own archive in the tar), the site's MQTT broker.</summary>
    public bool IncludeMosquitto { get; init; } = true;

    /// <summary>Long-lived tokens the base's admin made (shared by every clone unless removed after restore).</summary>
    public IReadOnlyList<string> LongLivedTokenNames { get; init; } = ["base-setup"];

    public DateTimeOffset Date { get; init; } = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    public int BcryptWorkFactor { get; init; } = 5;
}

/// <summary>Builds base backups like the one a release ships (tests and the demo have no real base instance).</summary>
public static class HaBaseBackup
{
    public static byte[] Create(HaBaseBackupSpec spec) => CreateBackup(spec).Write(spec.Password);

    public static HaBackup CreateBackup(HaBaseBackupSpec spec)
    {
        var config = new HaConfig
        {
            CoreUuid = spec.CoreUuid ?? HaConfig.NewId(),
            OnboardingDone = [.. HaConfig.AllSteps],
        };
        var owner = new HaUser(HaConfig.NewId(), spec.AdminName, IsOwner: true, IsActive: true, SystemGenerated: false, LocalOnly: false, [HaUser.AdminGroup]);
        config.Users.Add(owner);
        config.AddSystemUsers(spec.Date);
        var credential = new HaCredential(HaConfig.NewId(), owner.Id, spec.AdminUsername);
        config.Credentials.Add(credential);
        config.Passwords[spec.AdminUsername] = HaConfig.HashPassword(spec.AdminPassword, spec.BcryptWorkFactor);
        // The base's own browser session and its long-lived tokens: secrets every clone would share.
        config.RefreshTokens.Add(new HaRefreshToken(HaConfig.NewId(), owner.Id, "http://homeassistant.local:8123/", null, null, HaRefreshToken.Normal,
            spec.Date, 1800, HaConfig.NewSecret(), HaConfig.NewSecret(), spec.Date, "192.168.1.20", credential.Id));
        foreach (var name in spec.LongLivedTokenNames)
        {
            config.RefreshTokens.Add(new HaRefreshToken(HaConfig.NewId(), owner.Id, null, name, null, HaRefreshToken.LongLived,
                spec.Date, TimeSpan.FromDays(3650).TotalSeconds, HaConfig.NewSecret(), HaConfig.NewSecret(), null, null, credential.Id));
        }

        config.OtherFiles["configuration.yaml"] = Encoding.UTF8.GetBytes("default_config:\n\nfrontend:\n  themes: !include_dir_merge_named themes\n");
        config.OtherFiles["secrets.yaml"] = Encoding.UTF8.GetBytes("# Use this file to store secrets like usernames and passwords.\n");
        if (spec.IncludeFrigate)
        {
            config.OtherFiles["custom_components/frigate/manifest.json"] = Encoding.UTF8.GetBytes(
                """{"domain":"frigate","name":"Frigate","config_flow":true,"dependencies":["http","media_source","mqtt"],"version":"5.15.2"}""");
            config.OtherFiles["custom_components/frigate/__init__.py"] = Encoding.UTF8.GetBytes("\"\"\"Frigate integration (stand-in).\"\"\"\n");
        }

        var slug = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(spec.Name + spec.Date.ToUnixTimeSeconds())))[..8];
        var metadata = HaBackup.NewMetadata(slug, spec.Name, spec.Date, spec.HomeAssistantVersion, spec.DatabaseIncluded, config.CoreUuid);
        var parts = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        if (spec.IncludeMosquitto)
        {
            var addon = MosquittoAddon();
            metadata["addons"]!.AsArray().Add(new JsonObject { ["slug"] = "core_mosquitto", ["name"] = "Mosquitto broker", ["version"] = "6.5.0", ["size"] = Math.Round(addon.Length / 1048576.0, 3) });
            parts["core_mosquitto.tar.gz"] = addon;
        }

        return new HaBackup(metadata, config.ToFiles()) { Parts = parts };
    }

    /// <summary>The add-on's part as Supervisor writes it: a gzip tar of <c>addon.json</c> (its options and state).</summary>
    private static byte[] MosquittoAddon()
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        using (var writer = new TarWriter(gzip, TarEntryFormat.Pax))
        {
            var json = Encoding.UTF8.GetBytes("""{"user":{"logins":[],"require_certificate":false,"certfile":"fullchain.pem","keyfile":"privkey.pem"},"system":{},"state":"started","version":"6.5.0"}""");
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "./addon.json") { DataStream = new MemoryStream(json), Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite });
        }

        return buffer.ToArray();
    }
}
