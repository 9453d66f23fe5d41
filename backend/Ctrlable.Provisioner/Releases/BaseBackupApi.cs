using System.ComponentModel;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Hosting;
using Ctrlable.Provisioner.State;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Ctrlable.Provisioner.Releases;

/// <summary>The base backup stored for a release: what its check found. The credentials stay encrypted and are never returned.</summary>
public sealed record StoredBaseBackup(
    string FileName,
    [property: Description("SHA-256 of the stored file (64 lower-case hex digits, as sha256sum prints it).")]
    string Sha256,
    long SizeBytes,
    DateTimeOffset StoredAt,
    [property: Description("Home Assistant's owner in the backup: the deploy restores it and signs in as it with the password stored beside it.")]
    string? AdminUsername,
    [property: Description("A protected (encrypted) backup; its key is stored beside it.")]
    bool Encrypted,
    [property: Description("backup.json's Home Assistant Core version: a restore onto another Core version downloads that one first.")]
    string? HomeAssistantVersion,
    [property: Description("Who stored it: an admin's name, 'command line' (--import-base-backup) or 'demo'.")]
    string? StoredBy);

/// <summary>A release's Home Assistant base backup: what the manifest asks for and what is stored.</summary>
public sealed record BaseBackupStatus(
    [property: Description("The manifest's base_backup: the file name the backup is stored under.")]
    string FileName,
    [property: Description("The manifest's base_backup_sha256: an upload with another SHA-256 is refused. Null: the manifest pins none, any complete backup is taken.")]
    string? ExpectedSha256,
    [property: Description("The stored backup; null when none is (a ctrlable-pro deploy then fails saying so).")]
    StoredBaseBackup? Stored,
    [property: Description("The stored backup is the one the manifest pins (false when the manifest pins another, or none).")]
    bool MatchesManifest,
    [property: Description("The largest base backup accepted, in bytes (HomeAssistant:BaseBackupMaxMegabytes).")]
    long MaxBytes)
{
    public static BaseBackupStatus Of(BaseBackupTarget target, BaseBackupRow? row, long maxBytes) => new(
        target.FileName,
        target.ExpectedSha256,
        row is null ? null : new StoredBaseBackup(row.FileName, row.Sha256, row.SizeBytes, row.StoredAt, row.AdminUsername, row.Encrypted, row.HomeAssistantVersion, row.StoredBy),
        row is not null && target.ExpectedSha256 is { } pin && string.Equals(pin, row.Sha256, StringComparison.OrdinalIgnoreCase),
        maxBytes);
}

/// <summary>The multipart form of <c>PUT /api/releases/{release}/base-backup</c> (documentation: the endpoint reads the body as a stream).</summary>
public sealed record BaseBackupUploadForm(
    [property: Description("The backup as Home Assistant downloads it (a .tar: backup.json, homeassistant.tar.gz, one archive per add-on).")]
    IFormFile File,
    [property: Description("The password of Home Assistant's owner in the backup; checked against the backup, stored encrypted, used by the deploy to sign in.")]
    string Password,
    [property: Description("An encrypted backup's encryption key (Home Assistant's backup password); ignored for an unencrypted one.")]
    string? BackupPassword);

public static class BaseBackupApi
{
    private const string FilePart = "file";
    private const string PasswordPart = "password";
    private const string BackupPasswordPart = "backupPassword";

    // A password field; the multipart envelope around the file is a few hundred bytes.
    private const int MaxFieldChars = 1024;
    private const long EnvelopeAllowance = 64 * 1024;

    public static RouteGroupBuilder MapBaseBackup(this RouteGroupBuilder releases)
    {
        var maxBytes = ((IEndpointRouteBuilder)releases).ServiceProvider.GetRequiredService<IOptions<HomeAssistant.HomeAssistantOptions>>().Value.BaseBackupMaxBytes;
        releases.MapPut("/{release}/base-backup", UploadAsync)
            .RequireRole(Role.Admin)
            .WithName("UploadBaseBackup")
            .WithSummary("Store the release's Home Assistant base backup (multipart/form-data: file, password, backupPassword). The file is streamed to disk, " +
                "checked against the manifest's base_backup_sha256 and opened: every piece the deploy needs that it lacks is listed in one 422 answer ('errors'). " +
                "The stored backup is replaced only once the new one passed; until then (and when it fails) the old one stays.")
            .WithMetadata(new MultipartFormBody(typeof(BaseBackupUploadForm)))
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .WithRequestBodyLimit(maxBytes + EnvelopeAllowance);
        return releases;
    }

    private static async Task<Results<Ok<BaseBackupStatus>, ValidationProblem, ProblemHttpResult>> UploadAsync(
        string release, HttpContext http, BaseBackupStore store, ILoggerFactory loggers, CancellationToken ct)
    {
        BaseBackupTarget target;
        try
        {
            // Before a byte of the body is read: a wrong release does not cost the upload.
            target = store.Target(release);
        }
        catch (BaseBackupRejectedException rejected)
        {
            return Rejected(rejected);
        }

        if (!MediaTypeHeaderValue.TryParse(http.Request.ContentType, out var mediaType)
            || !mediaType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
            || HeaderUtilities.RemoveQuotes(mediaType.Boundary) is not { Length: > 0 and <= 200 } boundary)
        {
            return TypedResults.Problem(
                title: "Send the base backup as multipart/form-data",
                detail: "The body must be multipart/form-data with the parts 'file' (the backup), 'password' and, for an encrypted backup, 'backupPassword'.",
                statusCode: StatusCodes.Status415UnsupportedMediaType);
        }

        http.Audit().Target = $"release={target.Release}";
        StagedBaseBackup? staged = null;
        try
        {
            string? password = null;
            string? backupPassword = null;
            var reader = new MultipartReader(boundary.ToString(), http.Request.Body);
            try
            {
                while (await reader.ReadNextSectionAsync(ct) is { } section)
                {
                    if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                        || !disposition.DispositionType.Equals("form-data", StringComparison.OrdinalIgnoreCase))
                    {
                        return BadForm("Every part needs a Content-Disposition: form-data header with its name.");
                    }

                    switch (HeaderUtilities.RemoveQuotes(disposition.Name).ToString())
                    {
                        case FilePart when staged is null:
                            staged = await store.StageAsync(target.Release, section.Body, ct);
                            break;
                        case PasswordPart when password is null:
                            password = await ReadFieldAsync(section.Body, ct);
                            break;
                        case BackupPasswordPart when backupPassword is null:
                            backupPassword = await ReadFieldAsync(section.Body, ct);
                            break;
                        case var name:
                            return BadForm($"Unexpected part '{name}': send 'file' and 'password' once each, and 'backupPassword' for an encrypted backup.");
                    }
                }
            }
            catch (Exception ex) when (ex is InvalidDataException or FieldTooLongException || (ex is IOException && !ct.IsCancellationRequested))
            {
                return BadForm($"The multipart body cannot be read: {ex.Message}");
            }

            var missing = new Dictionary<string, string[]>();
            if (staged is null)
            {
                missing[FilePart] = ["The backup file is required."];
            }

            if (string.IsNullOrEmpty(password))
            {
                missing[PasswordPart] = ["The password of Home Assistant's owner in the backup is required: the deploy signs in with it."];
            }

            if (missing.Count > 0)
            {
                return TypedResults.ValidationProblem(missing, title: "The upload is incomplete.");
            }

            var actor = Actor.From(http.User);
            var row = await store.ImportAsync(target, staged!, password!, string.IsNullOrEmpty(backupPassword) ? null : backupPassword, actor?.Name ?? "unknown", ct);
            http.Audit().Target = $"release={target.Release}; sha256={row.Sha256}";
            loggers.CreateLogger(typeof(BaseBackupApi)).LogInformation("Base backup {File} of release {Release} stored by {Actor} (SHA-256 {Sha256}, {Size} bytes)",
                row.FileName, row.Release, actor?.Name, row.Sha256, row.SizeBytes);
            return TypedResults.Ok(BaseBackupStatus.Of(target, row, store.MaxBytes));
        }
        catch (BaseBackupRejectedException rejected)
        {
            return Rejected(rejected);
        }
        finally
        {
            if (staged is not null)
            {
                await staged.DisposeAsync();
            }
        }
    }

    private static async Task<string> ReadFieldAsync(Stream body, CancellationToken ct)
    {
        using var reader = new StreamReader(body, System.Text.Encoding.UTF8);
        var buffer = new char[MaxFieldChars + 1];
        var read = await reader.ReadBlockAsync(buffer.AsMemory(), ct);
        return read > MaxFieldChars ? throw new FieldTooLongException() : new string(buffer, 0, read);
    }

    private static ProblemHttpResult BadForm(string detail) =>
        TypedResults.Problem(title: "The upload is not a valid form", detail: detail, statusCode: StatusCodes.Status400BadRequest);

    private static ProblemHttpResult Rejected(BaseBackupRejectedException rejected) => TypedResults.Problem(
        title: rejected.Message,
        detail: string.Join(" ", rejected.Errors),
        statusCode: rejected.Reason switch
        {
            BaseBackupRejection.ReleaseNotFound => StatusCodes.Status404NotFound,
            BaseBackupRejection.NoBaseBackup => StatusCodes.Status409Conflict,
            BaseBackupRejection.TooLarge => StatusCodes.Status413PayloadTooLarge,
            _ => StatusCodes.Status422UnprocessableEntity,
        },
        extensions: new Dictionary<string, object?>
        {
            ["code"] = rejected.Reason switch
            {
                BaseBackupRejection.ReleaseNotFound => "release-not-found",
                BaseBackupRejection.NoBaseBackup => "no-base-backup",
                BaseBackupRejection.TooLarge => "base-backup-too-large",
                BaseBackupRejection.Sha256Mismatch => "base-backup-sha256-mismatch",
                _ => "base-backup-incomplete",
            },
            ["errors"] = rejected.Errors,
        });

    private sealed class FieldTooLongException() : Exception($"a field is longer than {MaxFieldChars} characters");
}
