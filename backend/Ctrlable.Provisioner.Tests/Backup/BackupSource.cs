using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Backup;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.Provisioner.Tls;

namespace Ctrlable.Provisioner.Tests.Backup;

/// <summary>
/// A data directory made by the real orchestrator — an admin, a project whose camera password sits encrypted in the secret
/// store, the generated TLS certificate — and one backup of it made by the built program's <c>--backup-to</c> while that
/// orchestrator was still serving. Made once per test class.
/// </summary>
public sealed class BackupSource : IAsyncLifetime
{
    public const string Passphrase = "correct horse battery staple";
    public const string CameraPassword = "cam-Secret-4711";
    public const string ProjectName = "Backup Site";

    public string Root { get; } = TempDirectory.Create("backup");
    public string Data => Path.Combine(Root, "source");
    public string BackupFile => Path.Combine(Root, "site.ctrlable-backup");
    public long ProjectId { get; private set; }
    public string CertificateFingerprint { get; private set; } = "";
    public CliRun Made { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        using var app = new ProvisionerApp(dataDirectory: Data);
        using var admin = await app.CreateClientAsync(Role.Admin);
        var response = await admin.PostAsJsonAsync("/api/projects", new
        {
            name = ProjectName,
            settings = new
            {
                zigbee = new { host = "192.168.1.60", port = 6638 },
                zwave = new { host = "192.168.1.61", port = 3333 },
                cameras = new[] { new { name = "front-door", streamUrl = $"rtsp://viewer:{CameraPassword}@192.168.1.70:554/stream1" } },
            },
        });
        response.StatusCode.Should().Be(HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        ProjectId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        CertificateFingerprint = app.Service<TlsCertificate>().Fingerprint;

        // Taken while the orchestrator above still serves: the SQLite online backup needs no stop.
        Made = await RunAsync(Data, ["--backup-to", BackupFile], stdin: Passphrase + "\n");
    }

    public Task DisposeAsync()
    {
        TempDirectory.TryDelete(Root);
        return Task.CompletedTask;
    }

    /// <summary>A fresh copy of the backup file for a test to damage.</summary>
    public string CopyOfBackup(string name)
    {
        var path = Path.Combine(Root, name);
        File.Copy(BackupFile, path, overwrite: true);
        return path;
    }

    /// <summary>Runs the built orchestrator (<c>dotnet Ctrlable.Provisioner.dll</c>) as the service's user would, on <paramref name="data"/>.</summary>
    public static async Task<CliRun> RunAsync(string data, string[] args, string? stdin = null, string? passphraseVariable = null)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Ctrlable.Provisioner.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var inherited in start.Environment.Keys.Where(k => k.StartsWith("CTRLABLE_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(inherited);
        }

        start.Environment["CTRLABLE_STORAGE__DATADIRECTORY"] = data;
        start.Environment["CTRLABLE_STORAGE__RELEASESDIRECTORY"] = RepoPaths.Releases;
        if (passphraseVariable is not null)
        {
            start.Environment[BackupCommand.PassphraseVariable] = passphraseVariable;
        }

        var run = await ChildProcess.RunAsync(start, stdin ?? "", TimeSpan.FromSeconds(120));
        return new CliRun(run.ExitCode, run.Stdout, run.Stderr);
    }

    /// <summary>Every file and folder under <paramref name="directory"/> with the SHA-256 of each file ("absent" when there is none).</summary>
    public static string TreeHash(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return "absent";
        }

        var lines = Directory.EnumerateFileSystemEntries(directory, "*", SearchOption.AllDirectories)
            .Order(StringComparer.Ordinal)
            .Select(path => Path.GetRelativePath(directory, path) + (File.Exists(path) ? " " + Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))) : "/"));
        return string.Join('\n', lines);
    }
}

public sealed record CliRun(int ExitCode, string Output, string Error)
{
    /// <summary>One readable line, no stack trace.</summary>
    public void ShouldBeOneLineOnStandardError(string contains)
    {
        ExitCode.Should().NotBe(0, Output);
        Error.Trim().Split('\n').Should().ContainSingle(Error).Which.Should().Contain(contains);
        Error.Should().NotContain("   at ").And.NotContain("Exception");
    }
}
