using System.Diagnostics;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Hosting;

/// <summary>
/// The product (what the dealer's bundle ships) carries no emulator: without a Proxmox host it refuses to start with one
/// line saying what to configure. Demo mode lives in Ctrlable.Provisioner.Demo, which the bundle does not contain.
/// </summary>
public sealed class ProductWithoutEmulatorTests : IDisposable
{
    private readonly string _data = TempDirectory.Create("no-proxmox");

    [Fact]
    public void The_product_assembly_references_no_emulator()
    {
        typeof(Program).Assembly.GetReferencedAssemblies().Select(a => a.Name)
            .Should().NotContain(n => n!.StartsWith("Ctrlable.PveSim", StringComparison.Ordinal) || n.StartsWith("Ctrlable.HaSim", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_product_without_a_proxmox_host_exits_with_one_line_saying_what_to_configure()
    {
        // On a fresh data directory nothing is saved in Settings either; a free port, so a start that serves would not clash.
        var run = await ChildProcess.RunAsync(Start("Ctrlable.Provisioner.dll"), limit: TimeSpan.FromSeconds(90));

        run.ExitCode.Should().Be(1, run.Stdout + run.Stderr);
        var lines = run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Should().ContainSingle().Which.Should()
            .StartWith("configuration error: no Proxmox host: set Proxmox:Url (CTRLABLE_PROXMOX__URL)")
            .And.Contain("scripts/run.sh");
        (run.Stdout + run.Stderr).Should().NotContain("SIMULATED").And.NotContain("   at ");
    }

    private ProcessStartInfo Start(string dll)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = AppContext.BaseDirectory };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, dll));
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{TestPorts.Free()}");
        foreach (var inherited in start.Environment.Keys.Where(k => k.StartsWith("CTRLABLE_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(inherited);
        }

        start.Environment["CTRLABLE_STORAGE__DATADIRECTORY"] = _data;
        start.Environment["CTRLABLE_STORAGE__RELEASESDIRECTORY"] = RepoPaths.Releases;
        return start;
    }

    public void Dispose() => TempDirectory.TryDelete(_data);
}
