using Ctrlable.HaSim.Backups;
using Ctrlable.Provisioner.Releases;

namespace Ctrlable.Provisioner.Tests.Infrastructure;

/// <summary>A release's Home Assistant base backup as a build stores it, made by the emulator's backup writer.</summary>
internal static class TestBaseBackup
{
    public const string AdminUser = "ctrlable";
    public const string AdminPassword = "base-password-1";
    public const string CoreUuid = "0123456789abcdef0123456789abcdef";

    public static HaBaseBackupSpec Spec() => new(AdminUser, AdminPassword) { CoreUuid = CoreUuid };

    /// <summary>
    /// Stores <paramref name="backup"/> (default: <see cref="Spec"/>, unencrypted) as the release's base backup, unless one is
    /// stored, with <paramref name="credentials"/> (default: <see cref="AdminUser"/>, <see cref="AdminPassword"/>). Not
    /// checked against the backup, as the demo's own is stored: tests of the deploy's checks store what an upload would refuse.
    /// </summary>
    public static async Task StoreAsync(ProvisionerApp app, string release = "2026.06", byte[]? backup = null, string? backupKey = null, bool replace = false,
        HaBaseCredentials? credentials = null)
    {
        var store = app.Service<BaseBackupStore>();
        if (!replace && await store.GetAsync(release, CancellationToken.None) is not null)
        {
            return;
        }

        await store.StoreAsync(release, $"ctrlable-base-{release}.tar", new MemoryStream(backup ?? HaBaseBackup.Create(Spec())),
            credentials ?? new HaBaseCredentials(AdminUser, AdminPassword, backupKey), null, CancellationToken.None);
    }
}
