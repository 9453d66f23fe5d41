using System.Diagnostics;
using System.Security.Cryptography;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Install;

/// <summary>
/// scripts/bundle-check.sh refuses a bundle that carries an emulator (demo mode stays in the repository) or whose app
/// lacks a runtime setting the memory figure was measured with. The bundles here are fakes with the published layout
/// and empty files: the contents check runs first, on its own.
/// </summary>
public sealed class BundleCheckTests : IDisposable
{
    private const string Name = "ctrlable-provisioner-9.9.9-linux-x64";
    private const string GcSetting = "\"System.GC.Server\": false";
    private const string SegmentsSetting = "\"System.GC.Name\": \"libclrgc.so\"";
    private const string TieringSetting = "\"System.Runtime.TieredCompilation\": false";
    private const string PgoSetting = "\"System.Runtime.TieredPGO\": false";
    private const string JsonSetting = "\"System.Text.Json.JsonSerializer.IsReflectionEnabledByDefault\": true";
    // Written by the SDK into a trimmed app's runtimeconfig only: the bundle is trimmed.
    private const string TrimmedSetting = "\"Microsoft.Extensions.DependencyInjection.VerifyOpenGenericServiceTrimmability\": true";
    private static readonly string[] RuntimeSettings = [GcSetting, SegmentsSetting, TieringSetting, PgoSetting, JsonSetting, TrimmedSetting];
    private readonly string _dir = TempDirectory.Create("bundle-check");

    [Theory]
    [InlineData("app/Ctrlable.PveSim.dll")]
    [InlineData("app/Ctrlable.HaSim.dll")]
    [InlineData("app/Ctrlable.Provisioner.Demo.dll")]
    [InlineData("app/firstboot/Ctrlable.PveSim.pdb")]
    public async Task A_bundle_with_an_emulator_file_fails_the_check_naming_it(string emulator)
    {
        var run = await CheckAsync(await PackAsync(extra: emulator));

        run.ExitCode.Should().Be(1);
        run.Stderr.Should().Contain($"bundle-check: the bundle contains an emulator: {emulator}");
        run.Stdout.Should().NotContain("contents ok");
    }

    [Fact]
    public async Task A_bundle_whose_app_depends_on_an_emulator_fails_the_check()
    {
        var run = await CheckAsync(await PackAsync(deps: """{ "libraries": { "Ctrlable.PveSim/1.0.0": { "type": "project" } } }"""));

        run.ExitCode.Should().Be(1);
        run.Stderr.Should().Contain("bundle-check: app/Ctrlable.Provisioner.deps.json names an emulator");
    }

    [Fact]
    public async Task A_bundle_without_an_emulator_passes_the_contents_check()
    {
        var run = await CheckAsync(await PackAsync());

        // The fake's scripts are empty, so a later step fails; the contents check has passed by then.
        run.Stdout.Should().Contain("bundle-check: contents ok, no emulator (9.9.9)");
        run.Stderr.Should().NotContain("emulator");
    }

    [Theory]
    [InlineData(GcSetting)]
    [InlineData(SegmentsSetting)]
    [InlineData(TieringSetting)]
    [InlineData(PgoSetting)]
    [InlineData(JsonSetting)]
    [InlineData(TrimmedSetting)]
    public async Task A_bundle_whose_runtimeconfig_lacks_a_measured_memory_setting_fails_the_check_naming_it(string missing)
    {
        var settings = RuntimeSettings.Where(s => s != missing);

        var run = await CheckAsync(await PackAsync(runtimeSettings: settings));

        run.ExitCode.Should().Be(1);
        run.Stderr.Should().Contain($"bundle-check: the app's runtimeconfig.json lacks {missing}");
        run.Stdout.Should().NotContain("contents ok");
    }

    [Fact]
    public async Task The_products_build_has_every_runtime_setting_the_bundle_check_requires()
    {
        // The product's runtimeconfig.json beside the tests is written from the same csproj as the published one. Two
        // come from the publish only (scripts/publish.sh): the trimmed marker, and no tiered compilation (a ReadyToRun
        // publish's; a build has no ReadyToRun code to keep), so a build has neither.
        var runtimeConfig = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "Ctrlable.Provisioner.runtimeconfig.json"));

        runtimeConfig.Should().Contain(GcSetting).And.Contain(SegmentsSetting).And.Contain(PgoSetting).And.Contain(JsonSetting)
            .And.NotContain(TrimmedSetting).And.NotContain(TieringSetting);
    }

    private async Task<string> PackAsync(string? extra = null, string deps = """{ "libraries": { "Ctrlable.Provisioner/9.9.9": { "type": "project" } } }""",
        IEnumerable<string>? runtimeSettings = null)
    {
        var stage = Path.Combine(_dir, "stage", Name);
        string[] files =
        [
            "VERSION", "install.sh", "app/Ctrlable.Provisioner", "app/libcoreclr.so", "app/wwwroot/index.html", "app/releases/2026.06.yaml",
            "host/ctrlable-build", "host/firstboot/ctrlable-firstboot.sh", "host/firstboot/ctrlable-firstboot.service",
            "deploy/ctrlable-provisioner.service", "deploy/ct-setup.sh",
        ];
        foreach (var file in extra is null ? files : [.. files, extra])
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(stage, file))!);
            await File.WriteAllTextAsync(Path.Combine(stage, file), "");
        }

        await File.WriteAllTextAsync(Path.Combine(stage, "VERSION"), "9.9.9\n");
        // As the SDK writes it: one setting a line, "name": value.
        var properties = string.Join(",\n", (runtimeSettings ?? RuntimeSettings).Select(p => "      " + p));
        await File.WriteAllTextAsync(Path.Combine(stage, "app", "Ctrlable.Provisioner.runtimeconfig.json"),
            $"{{\n  \"runtimeOptions\": {{\n    \"includedFrameworks\": [],\n    \"configProperties\": {{\n{properties}\n    }}\n  }}\n}}\n");
        await File.WriteAllTextAsync(Path.Combine(stage, "app", "Ctrlable.Provisioner.deps.json"), deps);
        var bundle = Path.Combine(_dir, Name + ".tar.gz");
        await SshServer.Run("tar", "-czf", bundle, "-C", Path.Combine(_dir, "stage"), Name);
        var hash = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(bundle)));
        await File.WriteAllTextAsync(bundle + ".sha256", $"{hash}  {Path.GetFileName(bundle)}\n");
        return bundle;
    }

    private static Task<ChildRun> CheckAsync(string bundle)
    {
        var start = new ProcessStartInfo("bash");
        start.ArgumentList.Add(Path.Combine(RepoPaths.Root, "scripts", "bundle-check.sh"));
        start.ArgumentList.Add(bundle);
        return ChildProcess.RunAsync(start, limit: TimeSpan.FromMinutes(1));
    }

    public void Dispose() => TempDirectory.TryDelete(_dir);
}
