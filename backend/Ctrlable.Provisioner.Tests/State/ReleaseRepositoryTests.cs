using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Dapper;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ctrlable.Provisioner.Tests.State;

public sealed class ReleaseRepositoryTests : IAsyncLifetime
{
    private readonly string _dir = TempDirectory.Create("releases-repo");
    private Database _database = null!;

    public async Task InitializeAsync()
    {
        TypeHandlers.Register();
        _database = new Database(Path.Combine(_dir, "test.db"));
        await new Migrator(_database, NullLogger<Migrator>.Instance).MigrateAsync();
    }

    public Task DisposeAsync()
    {
        TempDirectory.TryDelete(_dir);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Rows_round_trip_times_and_flags()
    {
        var activated = new DateTimeOffset(2026, 6, 3, 14, 5, 6, TimeSpan.FromHours(2));
        await using (var connection = await _database.OpenAsync())
        {
            await connection.ExecuteAsync(
                "INSERT INTO releases (name, community_scripts_ref, is_active, activated_at, created_at) VALUES (@name, @ref, @active, @activated, @created);",
                new { name = "2026.06", @ref = "2026-05-30", active = true, activated, created = activated.AddDays(-1) });
            await connection.ExecuteAsync(
                "INSERT INTO releases (name, community_scripts_ref, created_at) VALUES ('2026.07', '2026-07-01', @created);",
                new { created = activated });
        }

        var repository = new ReleaseRepository(_database);
        var rows = await repository.ListAsync();

        rows.Should().HaveCount(2);
        rows[0].IsActive.Should().BeTrue();
        rows[0].ActivatedAt.Should().Be(activated);
        rows[0].ActivatedAt!.Value.Offset.Should().Be(TimeSpan.FromHours(2));
        rows[1].IsActive.Should().BeFalse();
        rows[1].ActivatedAt.Should().BeNull();
        (await repository.GetActiveNameAsync()).Should().Be("2026.06");
    }

    [Fact]
    public async Task Only_one_release_can_be_active()
    {
        await using var connection = await _database.OpenAsync();
        await connection.ExecuteAsync("INSERT INTO releases (name, community_scripts_ref, is_active, created_at) VALUES ('2026.06', 'a', 1, '2026-01-01T00:00:00+00:00');");

        var act = () => connection.ExecuteAsync("INSERT INTO releases (name, community_scripts_ref, is_active, created_at) VALUES ('2026.07', 'b', 1, '2026-01-01T00:00:00+00:00');");

        await act.Should().ThrowAsync<Microsoft.Data.Sqlite.SqliteException>().WithMessage("*UNIQUE*");
    }

    [Fact]
    public async Task Templates_of_a_release_are_listed()
    {
        var built = new DateTimeOffset(2026, 6, 3, 10, 0, 0, TimeSpan.Zero);
        await using (var connection = await _database.OpenAsync())
        {
            await connection.ExecuteAsync("INSERT INTO releases (name, community_scripts_ref, created_at) VALUES ('2026.06', '2026-05-30', @built);", new { built });
            await connection.ExecuteAsync("""
                INSERT INTO templates (release, name, kind, vmid, node, builder_ref, builder_commit, app_version, built_at)
                VALUES ('2026.06', 'zwavejs', 'lxc', 9001, 'pve1', '2026-05-30', 'dc355d07bff60c8e7bd3263a9c663c391c91ad89', '9.31.0', @built);
                """, new { built });
        }

        var templates = await new ReleaseRepository(_database).ListTemplatesAsync("2026.06");

        templates.Should().ContainSingle().Which.Should().BeEquivalentTo(new
        {
            Name = "zwavejs",
            Kind = "lxc",
            Vmid = 9001L,
            Node = "pve1",
            AppVersion = "9.31.0",
            BuiltAt = built,
        });
    }
}
