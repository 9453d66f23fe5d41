using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ctrlable.HaSim.Backups;
using Ctrlable.HaSim.State;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Releases;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Releases;

/// <summary>
/// PUT /api/releases/{release}/base-backup: admins only; streamed to a temporary file, size-limited, checked against the
/// manifest's SHA-256 and opened; every missing piece listed at once; the stored backup replaced only by a verified one.
/// </summary>
public sealed class BaseBackupUploadTests : IDisposable
{
    private const string Password = "base-password-1";

    // 2030.01 deploys Frigate, 2030.03 does not, 2099.01 takes no base backup (and, the newest, is the demo host's release).
    private readonly string _releases = BaseBackupReleases.Create();

    public void Dispose() => TempDirectory.TryDelete(_releases);

    [Fact]
    public async Task Only_admins_may_store_a_base_backup()
    {
        using var app = new ProvisionerApp(_releases);
        await app.EnsureSetUpAsync();
        var backup = Backup();
        using var anonymous = app.CreateClient();
        (await UploadAsync(anonymous, "2030.01", backup, Password)).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        foreach (var role in new[] { Role.Viewer, Role.Operator })
        {
            foreach (var via in new[] { Via.Token, Via.Cookie })
            {
                using var client = await app.CreateClientAsync(role, via);
                (await UploadAsync(client, "2030.01", backup, Password)).StatusCode.Should().Be(HttpStatusCode.Forbidden, $"{role} via {via}");
            }
        }

        (await app.Service<BaseBackupStore>().FindRecordAsync("2030.01", CancellationToken.None)).Should().BeNull();

        using var admin = await app.CreateClientAsync(Role.Admin, Via.Cookie);
        var response = await UploadAsync(admin, "2030.01", backup, Password);
        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        var status = await response.Content.ReadFromJsonAsync<JsonElement>();
        status.GetProperty("fileName").GetString().Should().Be("ctrlable-base-2030.01.tar");
        var stored = status.GetProperty("stored");
        stored.GetProperty("sha256").GetString().Should().Be(Sha256(backup));
        stored.GetProperty("adminUsername").GetString().Should().Be(TestBaseBackup.AdminUser);
        stored.GetProperty("encrypted").GetBoolean().Should().BeFalse();
        stored.GetProperty("storedBy").GetString().Should().StartWith("admin-");
        status.GetProperty("matchesManifest").GetBoolean().Should().BeFalse("2030.01 pins no SHA-256");
        status.ToString().Should().NotContain(Password);

        var kept = await app.Service<BaseBackupStore>().GetAsync("2030.01", CancellationToken.None);
        kept!.Credentials.Should().Be(new HaBaseCredentials(TestBaseBackup.AdminUser, Password));
        (await File.ReadAllBytesAsync(kept.Path)).Should().Equal(backup);
        app.Logs.Lines.Should().NotContain(line => line.Contains(Password, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_file_with_another_sha256_than_the_manifest_pins_is_refused_and_nothing_is_kept()
    {
        var pinned = Backup();
        BaseBackupReleases.Write(_releases, "2030.02", frigate: true, sha256: Sha256(pinned));
        using var app = new ProvisionerApp(_releases);
        using var admin = await app.CreateClientAsync(Role.Admin);

        var other = Backup(password: "another-password-2");
        var problem = await ProblemAsync(await UploadAsync(admin, "2030.02", other, "another-password-2"), HttpStatusCode.UnprocessableEntity);
        problem.GetProperty("code").GetString().Should().Be("base-backup-sha256-mismatch");
        problem.GetProperty("detail").GetString().Should().Contain(Sha256(other)).And.Contain(Sha256(pinned));
        (await app.Service<BaseBackupStore>().FindRecordAsync("2030.02", CancellationToken.None)).Should().BeNull();
        ReleaseFolder(app, "2030.02").Should().BeEmpty("the refused upload is removed");

        var response = await UploadAsync(admin, "2030.02", pinned, Password);
        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("matchesManifest").GetBoolean().Should().BeTrue();
    }

    [Fact]
    public async Task A_backup_beyond_the_configured_limit_is_refused_with_413_whether_its_length_is_announced_or_not()
    {
        using var app = new ProvisionerApp(_releases, settings: new Dictionary<string, string?> { ["HomeAssistant:BaseBackupMaxMegabytes"] = "1" });
        using var admin = await app.CreateClientAsync(Role.Admin);
        var oneMiB = 1024 * 1024;

        // The body announces more than the limit: refused before it is read.
        var announced = await ProblemAsync(await UploadAsync(admin, "2030.01", new byte[3 * oneMiB], Password), HttpStatusCode.RequestEntityTooLarge);
        announced.GetProperty("code").GetString().Should().Be("body-too-large");

        // Chunked: refused once the limit is passed.
        using var chunked = Form(new byte[3 * oneMiB], Password);
        var bytes = await chunked.ReadAsByteArrayAsync();
        using var stream = new StreamContent(new NonSeekableStream(bytes));
        stream.Headers.ContentType = chunked.Headers.ContentType;
        (await ProblemAsync(await admin.PutAsync("/api/releases/2030.01/base-backup", stream), HttpStatusCode.RequestEntityTooLarge))
            .GetProperty("code").GetString().Should().Be("body-too-large");

        // The body fits the limit with its envelope, the file itself does not.
        var justOver = await ProblemAsync(await UploadAsync(admin, "2030.01", new byte[oneMiB + 1], Password), HttpStatusCode.RequestEntityTooLarge);
        justOver.GetProperty("code").GetString().Should().Be("base-backup-too-large");
        justOver.GetProperty("detail").GetString().Should().Contain("1 MiB");

        (await app.Service<BaseBackupStore>().FindRecordAsync("2030.01", CancellationToken.None)).Should().BeNull();
        ReleaseFolder(app, "2030.01").Should().BeEmpty();
    }

    [Fact]
    public async Task An_archive_that_lacks_pieces_the_deploy_needs_is_refused_with_every_piece_listed()
    {
        using var app = new ProvisionerApp(_releases);
        using var admin = await app.CreateClientAsync(Role.Admin);
        var incomplete = Backup(mosquitto: false, frigate: false, edit: config =>
        {
            config.OnboardingDone = ["user"];
            config.OtherFiles[".storage/auth_module.totp"] = Encoding.UTF8.GetBytes(new JsonObject
            {
                ["version"] = 1,
                ["key"] = "auth_module.totp",
                ["data"] = new JsonObject { ["users"] = new JsonObject { [config.Owner!.Id] = "JBSWY3DPEHPK3PXP" } },
            }.ToJsonString());
            config.ConfigEntries.Add(new HaConfigEntry("0a1b", "mqtt", "Mosquitto broker", new JsonObject { ["broker"] = "core-mosquitto" }, "hassio", null, DateTimeOffset.UnixEpoch));
            config.ConfigEntries.Add(new HaConfigEntry("0a1c", "hacs", "", new JsonObject { ["token"] = "gho_reference" }, "user", null, DateTimeOffset.UnixEpoch));
        });

        var problem = await ProblemAsync(await UploadAsync(admin, "2030.01", incomplete, "not-the-owners-password"), HttpStatusCode.UnprocessableEntity);

        problem.GetProperty("code").GetString().Should().Be("base-backup-incomplete");
        var errors = problem.GetProperty("errors").EnumerateArray().Select(e => e.GetString()!).ToList();
        errors.Should().HaveCount(7, string.Join(Environment.NewLine, errors));
        errors.Should().ContainSingle(e => e.Contains("Mosquitto broker add-on (core_mosquitto)", StringComparison.Ordinal));
        errors.Should().ContainSingle(e => e.Contains("no Frigate integration (custom_components/frigate", StringComparison.Ordinal));
        errors.Should().ContainSingle(e => e.Contains($"not the password of Home Assistant's owner '{TestBaseBackup.AdminUser}'", StringComparison.Ordinal));
        errors.Should().ContainSingle(e => e.Contains("two-factor authentication", StringComparison.Ordinal));
        errors.Should().ContainSingle(e => e.Contains("onboarding is not finished", StringComparison.Ordinal) && e.Contains("core_config, integration", StringComparison.Ordinal));
        errors.Should().ContainSingle(e => e.Contains("MQTT integration entry ('Mosquitto broker')", StringComparison.Ordinal));
        errors.Should().ContainSingle(e => e.Contains("HACS integration entry, which holds the GitHub token", StringComparison.Ordinal));
        problem.ToString().Should().NotContain("gho_reference");
        (await app.Service<BaseBackupStore>().FindRecordAsync("2030.01", CancellationToken.None)).Should().BeNull();
        ReleaseFolder(app, "2030.01").Should().BeEmpty();

        // The Frigate integration is needed only where the release deploys Frigate.
        var noFrigate = Backup(frigate: false);
        (await ProblemAsync(await UploadAsync(admin, "2030.01", noFrigate, Password), HttpStatusCode.UnprocessableEntity))
            .GetProperty("errors").EnumerateArray().Should().ContainSingle().Which.GetString().Should().Contain("Frigate integration");
        (await UploadAsync(admin, "2030.03", noFrigate, Password)).StatusCode.Should().Be(HttpStatusCode.OK);

        // Not a backup at all: one line saying so.
        (await ProblemAsync(await UploadAsync(admin, "2030.01", Encoding.UTF8.GetBytes("hello, not a tar"), Password), HttpStatusCode.UnprocessableEntity))
            .GetProperty("errors").EnumerateArray().Should().ContainSingle().Which.GetString().Should().Contain("not a tar archive");
    }

    [Fact]
    public async Task An_encrypted_backup_needs_the_key_that_opens_it_which_is_stored_with_it()
    {
        using var app = new ProvisionerApp(_releases);
        using var admin = await app.CreateClientAsync(Role.Admin);
        var encrypted = Backup(key: "backup-key-1");

        (await ProblemAsync(await UploadAsync(admin, "2030.01", encrypted, Password), HttpStatusCode.UnprocessableEntity))
            .GetProperty("errors").EnumerateArray().Should().ContainSingle().Which.GetString().Should().Contain("The backup is encrypted: give its encryption key");
        (await ProblemAsync(await UploadAsync(admin, "2030.01", encrypted, Password, "wrong-key"), HttpStatusCode.UnprocessableEntity))
            .GetProperty("errors").EnumerateArray().Should().ContainSingle().Which.GetString().Should().Contain("does not open the backup");
        var wrongPassword = await ProblemAsync(await UploadAsync(admin, "2030.01", encrypted, "wrong-password", "backup-key-1"), HttpStatusCode.UnprocessableEntity);
        wrongPassword.GetProperty("errors").EnumerateArray().Should().ContainSingle().Which.GetString().Should().Contain("not the password of Home Assistant's owner");

        var response = await UploadAsync(admin, "2030.01", encrypted, Password, "backup-key-1");
        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("stored").GetProperty("encrypted").GetBoolean().Should().BeTrue();
        var kept = await app.Service<BaseBackupStore>().GetAsync("2030.01", CancellationToken.None);
        kept!.Credentials.Should().Be(new HaBaseCredentials(TestBaseBackup.AdminUser, Password, "backup-key-1"));
    }

    [Fact]
    public async Task A_valid_backup_replaces_the_stored_one_only_once_it_is_verified()
    {
        // Real sockets: the upload below is half sent while the test looks at what is stored.
        using var app = new ProvisionerApp(_releases, kestrelUrls: "http://127.0.0.1:0");
        using var admin = new HttpClient { BaseAddress = app.HttpAddress };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await app.CreateTokenAsync(Role.Admin));
        var store = app.Service<BaseBackupStore>();
        var first = Backup(password: "first-password-1");
        (await UploadAsync(admin, "2030.01", first, "first-password-1")).StatusCode.Should().Be(HttpStatusCode.OK);

        // A second one on its way: half of it is on disk, the stored one is still the first.
        var second = Backup(password: "second-password-2");
        using var form = Form(second, "second-password-2");
        var body = await form.ReadAsByteArrayAsync();
        var resume = new TaskCompletionSource();
        using var slow = new PausingContent(body, body.Length / 2, resume.Task);
        slow.Headers.ContentType = form.Headers.ContentType;
        var upload = admin.PutAsync("/api/releases/2030.01/base-backup", slow);
        // The upload's temporary file exists once the server reads the file part (and waits for the rest of it).
        await Eventually.TrueAsync(() => ReleaseFolder(app, "2030.01").Any(f => f.StartsWith(".upload-", StringComparison.Ordinal)), "the upload's temporary file");
        await ExpectStoredAsync(store, first, "first-password-1");
        var detail = await admin.GetFromJsonAsync<JsonElement>("/api/releases/2030.01");
        detail.GetProperty("baseBackup").GetProperty("stored").GetProperty("sha256").GetString().Should().Be(Sha256(first));

        resume.SetResult();
        var response = await upload;
        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        await ExpectStoredAsync(store, second, "second-password-2");

        // One that fails its check leaves the stored one as it is.
        (await UploadAsync(admin, "2030.01", Backup(mosquitto: false), Password)).StatusCode.Should().Be(HttpStatusCode.UnprocessableEntity);
        (await UploadAsync(admin, "2030.01", Backup(password: "third-password-3"), "a-wrong-password")).StatusCode.Should().Be(HttpStatusCode.UnprocessableEntity);
        await ExpectStoredAsync(store, second, "second-password-2");
        ReleaseFolder(app, "2030.01").Should().Equal("ctrlable-base-2030.01.tar");
    }

    [Fact]
    public async Task Concurrent_uploads_leave_one_whole_backup_whose_credentials_are_its_own()
    {
        using var app = new ProvisionerApp(_releases);
        using var admin = await app.CreateClientAsync(Role.Admin);
        var backups = Enumerable.Range(1, 4).Select(i => (Password: $"concurrent-password-{i}", Tar: Backup(password: $"concurrent-password-{i}"))).ToList();

        var responses = await Task.WhenAll(backups.Select(b => UploadAsync(admin, "2030.01", b.Tar, b.Password)));

        responses.Select(r => r.StatusCode).Should().AllBeEquivalentTo(HttpStatusCode.OK);
        var kept = await app.Service<BaseBackupStore>().GetAsync("2030.01", CancellationToken.None);
        var file = await File.ReadAllBytesAsync(kept!.Path);
        var winner = backups.Should().ContainSingle(b => b.Tar.SequenceEqual(file)).Which;
        kept.Credentials.Password.Should().Be(winner.Password);
        kept.Sha256.Should().Be(Sha256(winner.Tar));
        HaConfig.FromFiles(HaBackup.Read(file, null).ConfigFiles).PasswordMatches(kept.Credentials.Username, kept.Credentials.Password).Should().BeTrue();
        ReleaseFolder(app, "2030.01").Should().Equal("ctrlable-base-2030.01.tar");
    }

    [Fact]
    public async Task A_release_that_is_unknown_or_takes_no_base_backup_is_refused_before_the_body_is_read()
    {
        using var app = new ProvisionerApp(_releases);
        using var admin = await app.CreateClientAsync(Role.Admin);

        (await ProblemAsync(await UploadAsync(admin, "2031.01", Backup(), Password), HttpStatusCode.NotFound)).GetProperty("code").GetString().Should().Be("release-not-found");
        (await ProblemAsync(await UploadAsync(admin, "2099.01", Backup(), Password), HttpStatusCode.Conflict)).GetProperty("code").GetString().Should().Be("no-base-backup");
        using var json = JsonContent.Create(new { password = Password });
        (await admin.PutAsync("/api/releases/2030.01/base-backup", json)).StatusCode.Should().Be(HttpStatusCode.UnsupportedMediaType);
        using var noPassword = Form(Backup(), null);
        var missing = await ProblemAsync(await admin.PutAsync("/api/releases/2030.01/base-backup", noPassword), HttpStatusCode.BadRequest);
        missing.GetProperty("errors").GetProperty("password").EnumerateArray().Should().ContainSingle();
        (await admin.GetFromJsonAsync<JsonElement>("/api/releases/2099.01")).GetProperty("baseBackup").ValueKind.Should().Be(JsonValueKind.Null);
    }

    internal static byte[] Backup(string password = Password, bool mosquitto = true, bool frigate = true, string? key = null, Action<HaConfig>? edit = null)
    {
        var backup = HaBaseBackup.CreateBackup(new HaBaseBackupSpec(TestBaseBackup.AdminUser, password) { IncludeMosquitto = mosquitto, IncludeFrigate = frigate });
        if (edit is not null)
        {
            var config = HaConfig.FromFiles(backup.ConfigFiles);
            edit(config);
            backup = backup.WithConfig(config);
        }

        return backup.Write(key);
    }

    internal static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static MultipartFormDataContent Form(byte[] file, string? password, string? key = null)
    {
        var form = new MultipartFormDataContent();
        var part = new ByteArrayContent(file);
        part.Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
        form.Add(part, "file", "base.tar");
        if (password is not null)
        {
            form.Add(new StringContent(password), "password");
        }

        if (key is not null)
        {
            form.Add(new StringContent(key), "backupPassword");
        }

        return form;
    }

    private static async Task<HttpResponseMessage> UploadAsync(HttpClient client, string release, byte[] file, string? password, string? key = null)
    {
        using var form = Form(file, password, key);
        return await client.PutAsync($"/api/releases/{release}/base-backup", form);
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        response.StatusCode.Should().Be(status, body);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        return JsonDocument.Parse(body).RootElement;
    }

    private static async Task ExpectStoredAsync(BaseBackupStore store, byte[] backup, string password)
    {
        var kept = await store.GetAsync("2030.01", CancellationToken.None);
        kept!.Sha256.Should().Be(Sha256(backup));
        kept.Credentials.Password.Should().Be(password);
        (await File.ReadAllBytesAsync(kept.Path)).Should().Equal(backup);
    }

    private static string FolderOf(ProvisionerApp app, string release) => Path.Combine(app.DataDirectory, "base-backups", release);

    private static IReadOnlyList<string> ReleaseFolder(ProvisionerApp app, string release) =>
        Directory.Exists(FolderOf(app, release)) ? [.. Directory.EnumerateFiles(FolderOf(app, release)).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal)] : [];

    /// <summary>Sends the first <c>split</c> bytes, then waits for <c>resume</c> before the rest (an upload still on its way).</summary>
    private sealed class PausingContent(byte[] body, int split, Task resume) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(body.AsMemory(0, split));
            await stream.FlushAsync();
            await resume;
            await stream.WriteAsync(body.AsMemory(split));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = body.Length;
            return true;
        }
    }

    /// <summary>A body whose length is not known up front (sent chunked).</summary>
    private sealed class NonSeekableStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }
}

/// <summary>Release manifests for the base backup tests.</summary>
internal static class BaseBackupReleases
{
    public static string Create()
    {
        var directory = TempDirectory.Create("base-backup-releases");
        Write(directory, "2030.01", frigate: true);
        Write(directory, "2030.03", frigate: false);
        File.WriteAllText(Path.Combine(directory, "2099.01.yaml"), """
            release: "2099.01"
            community_scripts_ref: "2026-05-30"
            community_scripts_commit: "dc355d07bff60c8e7bd3263a9c663c391c91ad89"
            proxmox_min_version: "8.2"
            templates:
              zwavejs:
                kind: lxc
                builder: ct/zwave-js-ui.sh
                vmid: 9001
                resources: { cpu: 2, ram: 2048, disk: 8 }
            """);
        return directory;
    }

    public static void Write(string directory, string release, bool frigate, string? sha256 = null)
    {
        var yaml = new StringBuilder($"""
            release: "{release}"
            community_scripts_ref: "2026-05-30"
            community_scripts_commit: "dc355d07bff60c8e7bd3263a9c663c391c91ad89"
            proxmox_min_version: "8.2"
            templates:
              ctrlable-pro:
                kind: vm
                builder: vm/haos-vm.sh
                vmid: 9100
                haos_version: "17.1"
                rebrand: true
                base_backup: "ctrlable-base-{release}.tar"

            """);
        if (sha256 is not null)
        {
            yaml.Append($"    base_backup_sha256: \"{sha256}\"\n");
        }

        if (frigate)
        {
            yaml.Append("""
                  frigate:
                    kind: lxc
                    builder: ct/frigate.sh
                    vmid: 9104
                    resources: { cpu: 4, ram: 4096, disk: 32 }

                """);
        }

        File.WriteAllText(Path.Combine(directory, $"{release}.yaml"), yaml.ToString());
    }
}
