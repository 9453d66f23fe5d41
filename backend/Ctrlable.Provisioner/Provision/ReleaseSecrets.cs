using System.Security.Cryptography;
using Ctrlable.Provisioner.Secrets;

namespace Ctrlable.Provisioner.Provision;

/// <summary>
/// The per-release first-boot secret: baked into a release's templates at build time (firstboot.env) and
/// presented by every clone when it asks for its assignment. A new one is issued with every build, so each
/// release has its own; it is kept encrypted in the secret store.
/// </summary>
public sealed class ReleaseSecrets(SecretStore secrets)
{
    /// <summary>Issues (and stores) a fresh secret for a build of <paramref name="release"/>, replacing an older one.</summary>
    public async Task<string> IssueAsync(string release, CancellationToken ct)
    {
        var secret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        await secrets.SetAsync(SecretKind.FirstBootSecret, Name(release), secret, ct);
        return secret;
    }

    public Task<string?> GetAsync(string release, CancellationToken ct) =>
        secrets.GetAsync(SecretKind.FirstBootSecret, Name(release), ct);

    /// <summary>The existing secret of a release, or a new one (the demo host's release is never built).</summary>
    public async Task<string> GetOrIssueAsync(string release, CancellationToken ct) =>
        await GetAsync(release, ct) ?? await IssueAsync(release, ct);

    private static string Name(string release) => $"release/{release}";
}
