using System.Diagnostics;
using System.Security.Cryptography;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Install;

/// <summary>
/// scripts/bundle-check.sh refuses a bundle that carries an emulator (demo mode stays in the repository). The bundles
/// here are fakes with the published layout and empty files: the contents check runs first, on its own.
/// </summary>
public sealed class BundleCheckTests : IDisposable
{
    private const string Name = "ctrlable-provisioner-9.9.9-linux-x64";
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

    [Fact]
    public async Task A_bundle_whose_app_runs_the_server_gc_fails_the_check()
    {
        var run = await CheckAsync(await PackAsync(runtimeConfig: """{ "runtimeOptions": { "includedFrameworks": [], "configProperties": { "System.GC.Server": true } } }"""));

        run.ExitCode.Should().Be(1);
        run.Stderr.Should().Contain("does not set the workstation GC (System.GC.Server false)");
        run.Stdout.Should().NotContain("contents ok");
    }

    private const string WorkstationGcRuntimeConfig = """{ "runtimeOptions": { "includedFrameworks": [], "configProperties": { "System.GC.Server": false } } }""";

    private async Task<string> PackAsync(
        string? extra = null, string deps = """{ "libraries": { "Ctrlable.Provisioner/9.9.9": { "type": "project" } } }""", string runtimeConfig = WorkstationGcRuntimeConfig)
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
        await File.WriteAllTextAsync(Path.Combine(stage, "app", "Ctrlable.Provisioner.runtimeconfig.json"), runtimeConfig);
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
