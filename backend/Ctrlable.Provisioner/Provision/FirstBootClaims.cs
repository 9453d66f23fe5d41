using System.Net;
using System.Security.Cryptography;
using System.Text;
using Ctrlable.Provisioner.State;
using Dapper;

namespace Ctrlable.Provisioner.Provision;

/// <summary>
/// Binds an instance's first boot to the guest that fetched its assignment first. That fetch (release secret and
/// the guest's address) issues a credential of the instance's own, handed out once in the answer; the guest's first
/// call with it confirms the claim, and from then on only that credential reads the assignment or completes the
/// first boot: the release secret, which every clone of the release carries, no longer does. A guest may instead send a
/// credential of its own with the release secret (<see cref="ClaimAsync"/>): that fetch claims and confirms at once. Until the claim is
/// confirmed a fetch with the release secret issues a new credential (the old one stops working), so a guest whose
/// answer was lost — a power cut, an orchestrator restart — starts over by itself. Only the credential's SHA-256
/// is stored (<c>firstboot_claims</c>).
/// </summary>
public sealed class FirstBootClaims(Database database, TimeProvider time)
{
    /// <summary>Compared against when an instance has no claim, so a miss costs what a hit costs.</summary>
    private static readonly byte[] NoClaim = RandomNumberGenerator.GetBytes(32);

    /// <summary>
    /// A new credential for the instance (32 random bytes, hex), replacing an unconfirmed one; null when the
    /// instance's claim is confirmed already (only its credential is accepted).
    /// </summary>
    public async Task<string?> IssueAsync(long instanceId, IPAddress? caller, CancellationToken ct)
    {
        const string sql = """
            INSERT INTO firstboot_claims (instance_id, credential_sha256, claimed_at, claimed_from, confirmed_at)
            VALUES (@instanceId, @hash, @now, @caller, NULL)
            ON CONFLICT (instance_id) DO UPDATE SET credential_sha256 = excluded.credential_sha256, claimed_at = excluded.claimed_at,
                                                    claimed_from = excluded.claimed_from
            WHERE firstboot_claims.confirmed_at IS NULL;
            """;
        var credential = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        await using var connection = await database.OpenAsync(ct);
        var written = await connection.ExecuteAsync(new CommandDefinition(sql,
            new { instanceId, hash = Hash(credential), now = time.GetUtcNow(), caller = caller?.ToString() }, cancellationToken: ct));
        return written == 1 ? credential : null;
    }

    /// <summary>
    /// The guest's own credential claims the instance, confirmed at once (the guest proves it holds the credential by
    /// sending it; it keeps it on disk before it sends it): true when the claim is this credential's now — a new claim,
    /// one replacing an unconfirmed claim, or this credential's confirmed claim again (a run that resumes) — false when
    /// another credential's claim is confirmed.
    /// </summary>
    public async Task<bool> ClaimAsync(long instanceId, string credential, IPAddress? caller, CancellationToken ct)
    {
        const string sql = """
            INSERT INTO firstboot_claims (instance_id, credential_sha256, claimed_at, claimed_from, confirmed_at)
            VALUES (@instanceId, @hash, @now, @caller, @now)
            ON CONFLICT (instance_id) DO UPDATE SET credential_sha256 = excluded.credential_sha256, claimed_at = excluded.claimed_at,
                                                    claimed_from = excluded.claimed_from, confirmed_at = excluded.confirmed_at
            WHERE firstboot_claims.confirmed_at IS NULL;
            """;
        int written;
        await using (var connection = await database.OpenAsync(ct))
        {
            written = await connection.ExecuteAsync(new CommandDefinition(sql,
                new { instanceId, hash = Hash(credential), now = time.GetUtcNow(), caller = caller?.ToString() }, cancellationToken: ct));
        }

        return written == 1 || await MatchesAsync(instanceId, credential, ct);
    }

    /// <summary>Whether <paramref name="credential"/> is the one issued for the instance (constant time; false when it has none).</summary>
    public async Task<bool> MatchesAsync(long? instanceId, string credential, CancellationToken ct)
    {
        const string sql = "SELECT credential_sha256 FROM firstboot_claims WHERE instance_id = @instanceId;";
        string? stored;
        // An unknown host name costs the lookup too (no instance has id 0).
        await using (var connection = await database.OpenAsync(ct))
        {
            stored = await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(sql, new { instanceId = instanceId ?? 0 }, cancellationToken: ct));
        }

        var matches = CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(credential)),
            stored is null ? NoClaim : Convert.FromHexString(stored));
        return stored is not null && matches;
    }

    /// <summary>The guest used its credential: from now on the release secret alone is refused for this instance.</summary>
    public async Task ConfirmAsync(long instanceId, CancellationToken ct)
    {
        const string sql = "UPDATE firstboot_claims SET confirmed_at = @now WHERE instance_id = @instanceId AND confirmed_at IS NULL;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { instanceId, now = time.GetUtcNow() }, cancellationToken: ct));
    }

    /// <summary>Forgets the instance's claim: its guest is gone (deleted, or to be cloned again), and so is the credential.</summary>
    public async Task ResetAsync(long instanceId, CancellationToken ct)
    {
        const string sql = "DELETE FROM firstboot_claims WHERE instance_id = @instanceId;";
        await using var connection = await database.OpenAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(sql, new { instanceId }, cancellationToken: ct));
    }

    /// <summary>What is stored of a credential: its SHA-256, lower-case hex.</summary>
    public static string Hash(string credential) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(credential)));
}
