using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace Ctrlable.Provisioner.State;

/// <summary>Opens connections to the orchestrator's SQLite file with the pragmas every connection needs.</summary>
public sealed class Database
{
    /// <summary>The database's file in the data directory (the backup copies it by this name too).</summary>
    public const string FileName = "provisioner.db";

    // Writers queue behind each other instead of failing with SQLITE_BUSY.
    private const int BusyTimeoutMs = 5000;

    private readonly string _connectionString;

    public Database(string path)
    {
        Path = path;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            ForeignKeys = true,
            Pooling = true,
            DefaultTimeout = BusyTimeoutMs / 1000,
        }.ToString();
    }

    public string Path { get; }

    public async Task<SqliteConnection> OpenAsync(CancellationToken ct = default)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(ct);
        await using var pragma = connection.CreateCommand();
        // synchronous=NORMAL is durable enough in WAL mode (a power cut can lose the last commits, never corrupt),
        // and every pipeline step reconciles with Proxmox on restart anyway.
        pragma.CommandText = $"PRAGMA busy_timeout = {BusyTimeoutMs}; PRAGMA synchronous = NORMAL;";
        await pragma.ExecuteNonQueryAsync(ct);
        return connection;
    }

    public static bool IsUniqueViolation(DbException ex) =>
        ex is SqliteException { SqliteErrorCode: 19, SqliteExtendedErrorCode: 2067 or 1555 };
}
