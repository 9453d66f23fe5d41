using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Dapper;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ctrlable.Provisioner.Tests.State;

public sealed class MigratorTests : IDisposable
{
    private readonly string _dir = TempDirectory.Create("migrate");
    private readonly Database _database;

    public MigratorTests() => _database = new Database(Path.Combine(_dir, "test.db"));

    public void Dispose() => TempDirectory.TryDelete(_dir);

    private Migrator NewMigrator() => new(_database, NullLogger<Migrator>.Instance);

    [Fact]
    public async Task Fresh_database_gets_every_table_and_the_latest_version()
    {
        var version = await NewMigrator().MigrateAsync();

        version.Should().Be(Migrator.LatestVersion).And.BeGreaterThan(0);
        await using var connection = await _database.OpenAsync();
        var tables = (await connection.QueryAsync<string>("SELECT name FROM sqlite_master WHERE type = 'table';")).ToList();
        tables.Should().Contain(["releases", "templates", "projects", "instances", "builds"]);
        (await connection.ExecuteScalarAsync<int>("PRAGMA user_version;")).Should().Be(Migrator.LatestVersion);
        (await connection.ExecuteScalarAsync<string>("PRAGMA journal_mode;")).Should().Be("wal");
        (await connection.ExecuteScalarAsync<int>("PRAGMA foreign_keys;")).Should().Be(1);
        (await connection.ExecuteScalarAsync<int>("PRAGMA busy_timeout;")).Should().BeGreaterThan(0);
    }

    [Fact]
    public async Task Running_again_changes_nothing()
    {
        await NewMigrator().MigrateAsync();
        await using (var connection = await _database.OpenAsync())
        {
            await connection.ExecuteAsync("INSERT INTO releases (name, community_scripts_ref, created_at) VALUES ('2026.06', '2026-05-30', '2026-11-25T00:00:00+00:00');");
        }

        var version = await NewMigrator().MigrateAsync();

        version.Should().Be(Migrator.LatestVersion);
        await using var check = await _database.OpenAsync();
        (await check.ExecuteScalarAsync<int>("SELECT count(*) FROM releases;")).Should().Be(1, "a re-run must not recreate or wipe tables");
    }

    [Fact]
    public async Task Database_newer_than_the_code_is_refused()
    {
        await NewMigrator().MigrateAsync();
        await using (var connection = await _database.OpenAsync())
        {
            await connection.ExecuteAsync($"PRAGMA user_version = {Migrator.LatestVersion + 1};");
        }

        var act = () => NewMigrator().MigrateAsync();

        var error = (await act.Should().ThrowAsync<SchemaTooNewException>()).Which;
        error.Found.Should().Be(Migrator.LatestVersion + 1);
        error.Message.Should().Contain("newer orchestrator");
    }

    [Fact]
    public void Migrations_are_numbered_without_gaps()
    {
        Migrator.All.Select(m => m.Version).Should().Equal(Enumerable.Range(1, Migrator.All.Count));
    }

    [Fact]
    public async Task Foreign_keys_are_enforced()
    {
        await NewMigrator().MigrateAsync();
        await using var connection = await _database.OpenAsync();

        var act = () => connection.ExecuteAsync("""
            INSERT INTO instances (project_id, type, hostname, state, created_at, updated_at)
            VALUES (42, 'zwavejs', 'x-zwavejs', 'pending', '2026-11-25T00:00:00+00:00', '2026-11-25T00:00:00+00:00');
            """);

        await act.Should().ThrowAsync<Microsoft.Data.Sqlite.SqliteException>().WithMessage("*FOREIGN KEY*");
    }
}
