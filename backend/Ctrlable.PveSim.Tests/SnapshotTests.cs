using System.Net;
using Ctrlable.PveSim.Tests.Support;

namespace Ctrlable.PveSim.Tests;

/// <summary>The standalone server keeps its state (guests, tokens, certificates) across restarts.</summary>
public sealed class SnapshotTests
{
    [Fact]
    public async Task A_restarted_emulator_has_the_same_guests_tokens_and_fingerprints()
    {
        var path = Path.Combine(Path.GetTempPath(), $"pvesim-{Guid.NewGuid():N}.json");
        try
        {
            string fingerprint;
            Auth.ApiTokenCredentials token;
            var (first, api) = await Sims.Start(snapshot: path);
            await using (first)
            {
                token = Sims.AdminToken(first);
                fingerprint = first.CertificateFingerprint;
                await api.RunTask(api.Post($"nodes/pve1/lxc/{Sims.LxcTemplate}/clone", ("newid", "150"), ("hostname", "kept")));
                await api.RunTask(api.Post("nodes/pve1/lxc/150/status/start"));
            }

            File.Exists(path).Should().BeTrue();
            await using var second = await PveSimulator.StartAsync(new Hosting.PveSimOptions { SnapshotPath = path, TimingScale = 0.01, Nodes = ["pve1"] });
            second.CertificateFingerprint.Should().Be(fingerprint);
            using var again = Sims.Client(second, token);
            var config = await again.Get("nodes/pve1/lxc/150/config");
            config.Status.Should().Be(HttpStatusCode.OK);
            config.Data!["hostname"]!.GetValue<string>().Should().Be("kept");
            (await again.Get("nodes/pve1/lxc/150/status/current")).Data!["status"]!.GetValue<string>().Should().Be("running");
        }
        finally
        {
            File.Delete(path);
        }
    }
}
