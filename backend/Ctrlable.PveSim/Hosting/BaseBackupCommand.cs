using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Ctrlable.HaSim.Backups;

namespace Ctrlable.PveSim.Hosting;

/// <summary>
/// <c>--write-base-backup FILE</c>: writes a Home Assistant base backup as the emulator's <see cref="HaBaseBackup"/> makes
/// it (a Supervisor backup, as a reference Home Assistant downloads it) and exits, for tests outside .NET (the browser
/// tests upload it on the Releases page). The owner's password is the first line of standard input, never an argument.
/// Prints one JSON line: the file, its SHA-256, the backup's slug (the backup_id Home Assistant restores) and the owner.
/// </summary>
internal static class BaseBackupCommand
{
    public const string Switch = "--write-base-backup";

    public const string Usage = """
        usage: --write-base-backup FILE [--admin NAME] [--name TEXT] [--without mosquitto,frigate]
          the owner's password is the first line of standard input
          --admin NAME       the owner's user name; default ctrlable
          --name TEXT        the backup's name (its slug is derived from it); default "Ctrlable base"
          --without PARTS    leave out the Mosquitto add-on and/or the Frigate integration
        """;

    private static readonly string[] Parts = ["mosquitto", "frigate"];

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextReader input, TextWriter output, TextWriter error)
    {
        if (Parse(args) is not { } request)
        {
            await error.WriteLineAsync(Usage);
            return 2;
        }

        var password = await input.ReadLineAsync();
        if (string.IsNullOrEmpty(password))
        {
            await error.WriteLineAsync("write-base-backup: give the owner's password as the first line of standard input");
            return 2;
        }

        var spec = new HaBaseBackupSpec(request.Admin, password)
        {
            Name = request.Name,
            IncludeMosquitto = !request.Without.Contains("mosquitto"),
            IncludeFrigate = !request.Without.Contains("frigate"),
        };
        var backup = HaBaseBackup.CreateBackup(spec);
        var bytes = backup.Write();
        try
        {
            await File.WriteAllBytesAsync(request.File, bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"write-base-backup: {request.File}: {e.Message}");
            return 1;
        }

        var written = new JsonObject
        {
            ["file"] = Path.GetFullPath(request.File),
            ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(bytes)),
            ["slug"] = backup.Slug,
            ["admin"] = request.Admin,
        };
        await output.WriteLineAsync(written.ToJsonString());
        return 0;
    }

    private sealed record Request(string File, string Admin, string Name, IReadOnlySet<string> Without);

    private static Request? Parse(IReadOnlyList<string> args)
    {
        if (args.Count < 1 || args[0].StartsWith("--", StringComparison.Ordinal))
        {
            return null;
        }

        string admin = "ctrlable", name = "Ctrlable base";
        var without = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 1; i < args.Count; i += 2)
        {
            if (i + 1 >= args.Count)
            {
                return null;
            }

            var value = args[i + 1];
            switch (args[i])
            {
                case "--admin" when value.Length > 0:
                    admin = value;
                    break;
                case "--name" when value.Length > 0:
                    name = value;
                    break;
                case "--without":
                    foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        if (!Parts.Contains(part))
                        {
                            return null;
                        }

                        without.Add(part);
                    }

                    break;
                default:
                    return null;
            }
        }

        return new Request(args[0], admin, name, without);
    }
}
