using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ctrlable.Provisioner.Manifest;
using Ctrlable.Provisioner.Tests.Build;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ctrlable.Provisioner.Tests.Manifest;

/// <summary>
/// scripts/pin-release.sh, run for real against a local git upstream (a lightweight and an annotated tag) and a
/// stand-in for GitHub's REST API over HTTPS on 127.0.0.1 (its certificate from a test CA, given as GITHUB_CA_BUNDLE):
/// it records the commit, the HAOS image digest and the newest matching app versions, changes nothing else, changes
/// nothing the second time, and refuses with one line (the file untouched) what it cannot pin.
/// </summary>
public sealed class PinReleaseTests(PinReleaseTests.Api api) : IClassFixture<PinReleaseTests.Api>
{
    private const string Sha163 = "4f2d7c0e9a1b3c5d7e9f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f";

    private const string Input = """
        # Release 2026.07, being written: pin-release.sh fills in what the network knows.
        release: "2026.07"
        community_scripts_ref: "2026-05-30"   # the tag, never a branch
        proxmox_min_version: "8.2"

        templates:
          ctrlable-pro:
            kind: vm
            builder: vm/haos-vm.sh
            vmid: 9000
            haos_version: "16.3"    # newest HAOS
            rebrand: true
          zwavejs:
            kind: lxc
            builder: ct/zwave-js-ui.sh
            vmid: 9001
            app_version: "11.x" # resolved by pin-release
            resources: { cpu: 2, ram: 2048, disk: 8 }
          zigbee2mqtt:
            kind: lxc
            builder: ct/zigbee2mqtt.sh
            vmid: 9002
            app_version: '2.x'
            resources:
              cpu: 2
              ram: 2048
              disk: 8
          frigate:
            kind: lxc
            builder: ct/frigate.sh
            vmid: 9004
            app_version: 0.17.1
            resources: { cpu: 4, ram: 4096, disk: 32 }
          freepbx:
            kind: lxc
            builder: ct/freepbx.sh
            vmid: 9005
            resources: { cpu: 2, ram: 2048, disk: 16 }

        """;

    [Fact]
    public async Task Pins_the_commit_the_HAOS_digest_and_the_newest_matching_versions_and_nothing_else()
    {
        var file = api.Release("pins", Input);

        var run = await api.RunAsync(file);

        run.Exit.Should().Be(0, run.ToString());
        var expected = Input
            .Replace("community_scripts_ref: \"2026-05-30\"   # the tag, never a branch\n",
                $"community_scripts_ref: \"2026-05-30\"   # the tag, never a branch\ncommunity_scripts_commit: \"{api.TaggedCommit}\"\n", StringComparison.Ordinal)
            .Replace("    haos_version: \"16.3\"    # newest HAOS\n", $"    haos_version: \"16.3\"    # newest HAOS\n    haos_sha256: \"{Sha163}\"\n", StringComparison.Ordinal)
            .Replace("app_version: \"11.x\" # resolved", "app_version: \"11.20.0\" # resolved", StringComparison.Ordinal)
            .Replace("app_version: '2.x'", "app_version: '2.10.1'", StringComparison.Ordinal);
        (await File.ReadAllTextAsync(file.Path)).Should().Be(expected);
        run.Stdout.Should().Be(
            $"{file.Name}:3: community_scripts_commit: (absent) -> \"{api.TaggedCommit}\"\n"
            + $"{file.Name}:11: templates.ctrlable-pro.haos_sha256: (absent) -> \"{Sha163}\"\n"
            + $"{file.Name}:17: templates.zwavejs.app_version: '11.x' -> '11.20.0' (tag v11.20.0)\n"
            + $"{file.Name}:23: templates.zigbee2mqtt.app_version: '2.x' -> '2.10.1' (tag 2.10.1)\n"
            + $"pin-release: wrote 4 change(s) to {file.Name}\n");
        run.Stderr.Should().BeEmpty();
        api.Paged.Should().Contain("zwave-js/zwave-js-ui page 3", "the releases are read across every page the Link header names");

        var again = await api.RunAsync(file);

        again.Exit.Should().Be(0, again.ToString());
        again.Stdout.Should().Be($"pin-release: {file.Name} is pinned; nothing to change\n");
        (await File.ReadAllTextAsync(file.Path)).Should().Be(expected);

        var parsed = ManifestParser.Parse(file.Name, expected);
        parsed.Errors.Should().BeEmpty(ManifestAssertions.Describe(parsed.Errors));
    }

    [Fact]
    public async Task An_annotated_tag_is_pinned_to_the_commit_it_points_to_and_a_file_without_a_final_newline_keeps_none()
    {
        var file = api.Release("annotated", "release: \"2026.07\"\ncommunity_scripts_ref: '2026-06-15'\nproxmox_min_version: \"8.2\"\ntemplates:\n  freepbx:\n    kind: lxc");

        var run = await api.RunAsync(file);

        run.Exit.Should().Be(0, run.ToString());
        (await File.ReadAllTextAsync(file.Path)).Should().Be(
            $"release: \"2026.07\"\ncommunity_scripts_ref: '2026-06-15'\ncommunity_scripts_commit: \"{api.AnnotatedCommit}\"\nproxmox_min_version: \"8.2\"\ntemplates:\n  freepbx:\n    kind: lxc");
        api.AnnotatedCommit.Should().NotBe(api.AnnotatedTagObject, "the ^{} line names the commit, the other the tag object");
    }

    [Fact]
    public async Task Dry_run_prints_the_changes_and_leaves_the_file_alone()
    {
        var file = api.Release("dry", Input);

        var run = await api.RunAsync(file, "--dry-run");

        run.Exit.Should().Be(0, run.ToString());
        run.Stdout.Should().Contain($"{file.Name}:17: templates.zwavejs.app_version: '11.x' -> '11.20.0' (tag v11.20.0)\n")
            .And.EndWith($"pin-release: --dry-run: {file.Name} not changed (4 change(s) above)\n");
        (await File.ReadAllTextAsync(file.Path)).Should().Be(Input);
    }

    public static TheoryData<string, string, string> Refusals => new()
    {
        { "community_scripts_ref: \"2026-05-30\"", "community_scripts_ref: \"2026-01-01\"", "pin-release: tag '2026-01-01' is not in {upstream}" },
        { "app_version: \"11.x\"", "app_version: \"99.x\"",
            "pin-release: {file}:17: templates.zwavejs.app_version: no published release of zwave-js/zwave-js-ui matches 99.x (tags spelled v<version>)" },
        { "haos_version: \"16.3\"", "haos_version: \"15.1\"",
            "pin-release: {file}:11: templates.ctrlable-pro.haos_sha256: GitHub has no digest for haos_ova-15.1.qcow2.xz (assets uploaded before June 2025 have none): "
            + "pin haos_sha256 by hand (sha256sum of the validated image) or choose a newer haos_version" },
        { "haos_version: \"16.3\"", "haos_version: \"16.9\"",
            "pin-release: {file}:11: templates.ctrlable-pro.haos_version: GitHub has no release 16.9 of home-assistant/operating-system (HTTP 404)" },
        { "app_version: 0.17.1", "app_version: 0.14.x",
            "pin-release: {file}:32: templates.frigate.app_version: '0.14.x' is not what ct/frigate.sh installs: at {short} it installs 0.17.1 whatever var_appversion says (install/frigate-install.sh:113); set app_version to \"0.17.1\"" },
        { "proxmox_min_version: \"8.2\"", "community_scripts_commit: \"0123456789abcdef0123456789abcdef01234567\"\nproxmox_min_version: \"8.2\"",
            "pin-release: {file}:4: tag '2026-05-30' points to {commit}, but the manifest records 0123456789abcdef0123456789abcdef01234567: the tag moved or the value is wrong; check upstream, then remove community_scripts_commit to pin it again" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task What_cannot_be_pinned_is_one_line_and_a_non_zero_exit_and_the_file_stays(string from, string to, string message)
    {
        var text = Input.Replace(from, to, StringComparison.Ordinal);
        var file = api.Release("refused-" + Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(to)))[..8], text);

        var run = await api.RunAsync(file);

        run.Exit.Should().Be(1, run.ToString());
        run.Stderr.Should().Be(message.Replace("{file}", file.Name, StringComparison.Ordinal).Replace("{upstream}", api.Upstream, StringComparison.Ordinal)
            .Replace("{commit}", api.TaggedCommit, StringComparison.Ordinal).Replace("{short}", api.TaggedCommit[..12], StringComparison.Ordinal) + "\n");
        (await File.ReadAllTextAsync(file.Path)).Should().Be(text);
    }

    [Fact]
    public async Task The_token_goes_in_a_header_only_and_an_http_API_is_refused()
    {
        const string Token = "ghp_thisIsATestTokenThatMustNeverBePrinted0000";
        var file = api.Release("token", Input);

        var run = await api.RunAsync(file, "--dry-run", token: Token);

        run.Exit.Should().Be(0, run.ToString());
        api.Authorizations.Should().Contain($"Bearer {Token}");
        (run.Stdout + run.Stderr).Should().NotContain(Token);

        var http = await api.RunAsync(file, apiUrl: "http://127.0.0.1:9");

        http.Exit.Should().Be(1);
        http.Stderr.Should().Be("pin-release: GITHUB_API_URL must be an https:// URL, not 'http://127.0.0.1:9'\n");
    }

    public sealed record ReleaseFile(string Name, string Path);

    public sealed record Run(int Exit, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {Exit}\n--- stdout:\n{Stdout}\n--- stderr:\n{Stderr}";
    }

    /// <summary>The stand-in GitHub API (HTTPS, a test CA), the git upstream and a builders table for its commits.</summary>
    public sealed class Api : IAsyncLifetime
    {
        private static readonly string[] ZwaveTags = ["v12.1.0", "v12.0.0-beta.1", "v11.20.0", "v11.3.0", "v11.19.0", "v10.11.0"];
        private static readonly string[] Zigbee2MqttTags = ["2.11.0-dev", "2.10.1", "2.9.2", "1.42.0"];
        private WebApplication? _app;
        private string _directory = "";
        private string _caBundle = "";
        private string _table = "";
        private string _url = "";

        public string Upstream { get; private set; } = "";

        public string TaggedCommit { get; private set; } = "";

        public string AnnotatedCommit { get; private set; } = "";

        public string AnnotatedTagObject { get; private set; } = "";

        public ConcurrentBag<string> Authorizations { get; } = [];

        public ConcurrentBag<string> Paged { get; } = [];

        public ReleaseFile Release(string name, string text)
        {
            var relative = $"releases/{name}.yaml";
            var path = Path.Combine(_directory, relative);
            File.WriteAllText(path, text);
            return new ReleaseFile(relative, path);
        }

        public async Task<Run> RunAsync(ReleaseFile file, string? option = null, string? token = null, string? apiUrl = null)
        {
            var start = new ProcessStartInfo("bash", [Path.Combine(RepoPaths.Root, "scripts", "pin-release.sh"), .. option is null ? Array.Empty<string>() : [option], file.Name])
            {
                WorkingDirectory = _directory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            start.Environment["UPSTREAM_URL"] = Upstream;
            start.Environment["GITHUB_API_URL"] = apiUrl ?? _url;
            start.Environment["GITHUB_CA_BUNDLE"] = _caBundle;
            start.Environment["BUILDERS_TABLE"] = _table;
            start.Environment.Remove("GITHUB_TOKEN");
            if (token is not null)
            {
                start.Environment["GITHUB_TOKEN"] = token;
            }

            var run = await ChildProcess.RunAsync(start, limit: TimeSpan.FromMinutes(2));
            return new Run(run.ExitCode, run.Stdout, run.Stderr);
        }

        public async Task InitializeAsync()
        {
            _directory = TempDirectory.Create("pin-release");
            Directory.CreateDirectory(Path.Combine(_directory, "releases"));

            // The upstream: 2026-05-30 a lightweight tag, 2026-06-15 an annotated one on a later commit.
            Upstream = Path.Combine(_directory, "upstream");
            Directory.CreateDirectory(Upstream);
            await BuildHost.Git(Upstream, "init", "--quiet");
            await BuildHost.Git(Upstream, "commit", "--quiet", "--allow-empty", "-m", "one");
            await BuildHost.Git(Upstream, "tag", "2026-05-30");
            TaggedCommit = (await BuildHost.Git(Upstream, "rev-parse", "HEAD")).Trim();
            await BuildHost.Git(Upstream, "commit", "--quiet", "--allow-empty", "-m", "two");
            await BuildHost.Git(Upstream, "tag", "-a", "-m", "release", "2026-06-15");
            AnnotatedCommit = (await BuildHost.Git(Upstream, "rev-parse", "HEAD")).Trim();
            AnnotatedTagObject = (await BuildHost.Git(Upstream, "rev-parse", "2026-06-15")).Trim();

            // The real table's builders, as if recorded at the fixture's commits.
            var real = await File.ReadAllLinesAsync(Path.Combine(RepoPaths.Root, "backend", "Ctrlable.Provisioner", "Manifest", "upstream-builders.tsv"));
            var rows = real.Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l[40..]).ToList();
            _table = Path.Combine(_directory, "builders.tsv");
            await File.WriteAllLinesAsync(_table, rows.Select(r => TaggedCommit + r).Concat(rows.Select(r => AnnotatedCommit + r)));

            var (ca, server) = Certificates();
            _caBundle = Path.Combine(_directory, "ca.pem");
            await File.WriteAllTextAsync(_caBundle, ca.ExportCertificatePem());

            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.UseHttps(server)));
            builder.Logging.ClearProviders();
            _app = builder.Build();
            _app.Use(async (context, next) =>
            {
                if (context.Request.Headers.Authorization.ToString() is { Length: > 0 } authorization)
                {
                    Authorizations.Add(authorization);
                }

                await next();
            });
            _app.MapGet("/repos/home-assistant/operating-system/releases/tags/{version}", (string version) => version switch
            {
                "16.3" => Results.Json(new
                {
                    tag_name = "16.3",
                    assets = new object[]
                {
                    new { name = "haos_generic-x86-64-16.3.img.xz", digest = "sha256:" + new string('1', 64) },
                    new { name = "haos_ova-16.3.qcow2.xz", digest = "sha256:" + Sha163 },
                }
                }),
                "15.1" => Results.Json(new { tag_name = "15.1", assets = new object[] { new { name = "haos_ova-15.1.qcow2.xz", digest = (string?)null } } }),
                _ => Results.Json(new { message = "Not Found" }, statusCode: 404),
            });
            _app.MapGet("/repos/{owner}/{repo}/releases", (string owner, string repo, int? page, HttpContext context) =>
            {
                var all = Releases(owner, repo);
                var number = page ?? 1;
                Paged.Add($"{owner}/{repo} page {number}");
                const int Size = 2; // GitHub's pages, made small so the Link chain is followed
                var last = (all.Count + Size - 1) / Size;
                if (number < last)
                {
                    context.Response.Headers.Link = $"<{_url}/repos/{owner}/{repo}/releases?per_page=100&page={number + 1}>; rel=\"next\", <{_url}/repos/{owner}/{repo}/releases?per_page=100&page={last}>; rel=\"last\"";
                }

                return Results.Json(all.Skip((number - 1) * Size).Take(Size));
            });
            _app.MapGet("/repos/{owner}/{repo}/releases/tags/{tag}", (string owner, string repo, string tag) =>
                Releases(owner, repo).FirstOrDefault(r => r.tag_name == tag) is { } release
                    ? Results.Json(release)
                    : Results.Json(new { message = "Not Found" }, statusCode: 404));
            await _app.StartAsync();
            _url = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single().TrimEnd('/');
        }

        public async Task DisposeAsync()
        {
            if (_app is not null)
            {
                await _app.DisposeAsync();
            }

            TempDirectory.TryDelete(_directory);
        }

        private static List<GitHubRelease> Releases(string owner, string repo) => $"{owner}/{repo}" switch
        {
            "zwave-js/zwave-js-ui" => [.. ZwaveTags.Select(t => new GitHubRelease(t, t == "v12.1.0", t.Contains('-', StringComparison.Ordinal)))],
            "Koenkk/zigbee2mqtt" => [.. Zigbee2MqttTags.Select(t => new GitHubRelease(t, false, t.Contains('-', StringComparison.Ordinal)))],
            _ => [],
        };

        /// <summary>A test CA and a server certificate for 127.0.0.1 it signed.</summary>
        private static (X509Certificate2 Ca, X509Certificate2 Server) Certificates()
        {
            using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var caRequest = new CertificateRequest("CN=pin-release test CA", caKey, HashAlgorithmName.SHA256);
            caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));

            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(san.Build());
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
            using var signed = request.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(29), RandomNumberGenerator.GetBytes(8));
            using var withKey = signed.CopyWithPrivateKey(key);
            return (ca, X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null));
        }
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Style", "IDE1006", Justification = "GitHub's JSON names")]
    private sealed record GitHubRelease(string tag_name, bool draft, bool prerelease);
}
