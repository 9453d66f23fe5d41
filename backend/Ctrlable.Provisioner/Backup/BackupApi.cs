using System.Globalization;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Hosting;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Backup;

/// <summary>A download of the orchestrator's backup: the passphrase it is encrypted with (in the body, never in the URL).</summary>
public sealed record CreateBackupRequest(string Passphrase);

public sealed class CreateBackupValidator : AbstractValidator<CreateBackupRequest>
{
    public CreateBackupValidator() =>
        RuleFor(r => r.Passphrase).NotEmpty().MinimumLength(BackupCipher.MinPassphraseLength)
            .WithMessage($"Use a passphrase of at least {BackupCipher.MinPassphraseLength} characters.").MaximumLength(1024);
}

public static class BackupApi
{
    public static RouteHandlerBuilder MapBackup(this IEndpointRouteBuilder routes) =>
        routes.MapPost("/api/settings/backup", async Task<Results<FileStreamHttpResult, ProblemHttpResult>> (
                CreateBackupRequest request, IOptions<StorageOptions> storage, IOptions<TlsOptions> tls, TimeProvider time, HttpContext http, CancellationToken ct) =>
            {
                var now = time.GetUtcNow();
                var name = string.Create(CultureInfo.InvariantCulture, $"ctrlable-backup-{BackupFiles.SiteName()}-{now:yyyy-MM-dd}.ctrlable-backup");
                // Made whole into a private temporary file first: a failure is a problem answer, never half a download.
                var file = Path.Combine(Directory.CreateTempSubdirectory("ctrlable-download-").FullName, name);
                try
                {
                    await BackupFiles.WriteAsync(file, Path.GetFullPath(storage.Value.DataDirectory), tls.Value, request.Passphrase, now, ct);
                }
                catch (BackupException ex)
                {
                    Directory.Delete(Path.GetDirectoryName(file)!, recursive: true);
                    return TypedResults.Problem(title: "Backup not made", detail: ex.Message, statusCode: StatusCodes.Status422UnprocessableEntity);
                }

                http.Audit().Target = name;
                var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 64 * 1024, FileOptions.Asynchronous);
                // Unlinked at once: the open stream still reads it, and nothing is left behind when the download ends.
                Directory.Delete(Path.GetDirectoryName(file)!, recursive: true);
                return TypedResults.File(stream, "application/octet-stream", name);
            })
            .WithValidation<CreateBackupRequest>()
            .RequireRole(Role.Admin)
            .WithTags("Settings")
            .WithName("CreateBackup")
            .WithSummary("Download the orchestrator's backup (database, key ring, TLS certificate, settings), encrypted with the passphrase given.")
            .WithDescription("AES-256-GCM with a key from PBKDF2-HMAC-SHA256 (600,000 iterations) of the passphrase; restore it with --restore-from FILE. The passphrase is not stored or logged.")
            .Produces<Stream>(StatusCodes.Status200OK, "application/octet-stream")
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);
}
