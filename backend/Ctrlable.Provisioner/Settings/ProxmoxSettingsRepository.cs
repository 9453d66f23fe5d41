using Ctrlable.Provisioner.State;
using Dapper;

namespace Ctrlable.Provisioner.Settings;

public sealed record ProxmoxSettingsRow(string Url, string TokenId, string CertificateFingerprint, DateTimeOffset UpdatedAt, string UpdatedBy);

/// <summary>The Proxmox connection an admin saved (without its secret, which the secret store keeps encrypted).</summary>
public sealed class ProxmoxSettingsRepository(Database database)
{
    public async Task<ProxmoxSettingsRow?> GetAsync(CancellationToken ct)
    {
        const string sql = """
            SELECT url AS Url, token_id AS TokenId, certificate_fingerprint AS CertificateFingerprint, updated_at AS UpdatedAt, updated_by AS UpdatedBy
            FROM proxmox_settings WHERE id = 1;
            """;
        await using var connection = await database.OpenAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<ProxmoxSettingsRow>(new CommandDefinition(sql, cancellationToken: ct));
    }

    public async Task SaveAsync(ProxmoxSettingsRow row, CancellationToken ct)
    {
        const string sql = """
            INSERT INTO proxmox_settings (id, url, token_id, certificate_fingerprint, updated_at, updated_by)
            VALUES (1, @Url, @TokenId, @CertificateFingerprint, @UpdatedAt, @UpdatedBy)
            ON CONFLICT (id) DO UPDATE SET url = excluded.url, token_id = excluded.token_id,
                certificate_fingerprint = excluded.certificate_fingerprint, updated_at = excluded.updated_at, updated_by = excluded.updated_by;
            """;
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, row, cancellationToken: ct));
    }
}
