using System.Text.RegularExpressions;
using Dapper;

namespace Ctrlable.Provisioner.State;

/// <summary>
/// Applies the embedded, numbered <c>Migrations/NNN_*.sql</c> scripts in order, one transaction each,
/// tracking the schema version in <c>PRAGMA user_version</c>.
/// </summary>
public sealed partial class Migrator(Database database, ILogger<Migrator> logger)
{
    public static IReadOnlyList<Migration> All { get; } = LoadEmbedded();

    public static int LatestVersion => All.Count == 0 ? 0 : All[^1].Version;

    public async Task<int> MigrateAsync(CancellationToken ct = default)
    {
        await using var connection = await database.OpenAsync(ct);
        // WAL lets the dashboard read while a deploy writes; it is a property of the file, set once.
        await connection.ExecuteAsync("PRAGMA journal_mode = WAL;");

        var current = await connection.ExecuteScalarAsync<int>("PRAGMA user_version;");
        if (current > LatestVersion)
        {
            throw new SchemaTooNewException(database.Path, current, LatestVersion);
        }

        foreach (var migration in All.Where(m => m.Version > current))
        {
            await using var tx = await connection.BeginTransactionAsync(ct);
            await connection.ExecuteAsync(migration.Sql, transaction: tx);
            // PRAGMA takes no parameters; the version is an int we parsed ourselves.
            await connection.ExecuteAsync($"PRAGMA user_version = {migration.Version};", transaction: tx);
            await tx.CommitAsync(ct);
            logger.LogInformation("Applied database migration {Version} ({Name})", migration.Version, migration.Name);
            current = migration.Version;
        }

        return current;
    }

    private static List<Migration> LoadEmbedded()
    {
        var assembly = typeof(Migrator).Assembly;
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            var match = ResourceName().Match(resource);
            if (!match.Success)
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            migrations.Add(new Migration(int.Parse(match.Groups["v"].Value, System.Globalization.CultureInfo.InvariantCulture), match.Groups["name"].Value, reader.ReadToEnd()));
        }

        migrations.Sort((a, b) => a.Version.CompareTo(b.Version));
        for (var i = 0; i < migrations.Count; i++)
        {
            if (migrations[i].Version != i + 1)
            {
                throw new InvalidOperationException($"Migrations must be numbered 1..N without gaps; found {migrations[i].Version} at position {i + 1}.");
            }
        }

        return migrations;
    }

    [GeneratedRegex(@"\.Migrations\.(?<v>\d{3})_(?<name>[A-Za-z0-9_]+)\.sql$")]
    private static partial Regex ResourceName();
}

public sealed record Migration(int Version, string Name, string Sql);

public sealed class SchemaTooNewException(string path, int found, int supported)
    : Exception($"The database {path} has schema version {found}, but this orchestrator knows only up to {supported}. Install a newer orchestrator or restore a backup of the database.")
{
    public int Found { get; } = found;
    public int Supported { get; } = supported;
}
