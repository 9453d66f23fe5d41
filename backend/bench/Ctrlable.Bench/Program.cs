using System.Globalization;

namespace Ctrlable.Bench;

/// <summary>
/// Benchmarks of the orchestrator against the Proxmox emulator. Each reports a ratio against a baseline
/// measured in the same run. (A class, not top-level statements: the orchestrator's own Program is referenced.)
/// <code>dotnet run -c Release --project backend/bench/Ctrlable.Bench -- dashboard [--seconds 30] [--viewers 1,50,200]</code>
/// </summary>
public static class BenchMain
{
    public static async Task<int> Main(string[] args)
    {
        var seconds = Option(args, "--seconds", 30);
        switch (args.FirstOrDefault())
        {
            case "dashboard":
                return await DashboardBench.RunAsync(Options(args, "--viewers", [1, 50, 200]), TimeSpan.FromSeconds(seconds), args.Contains("--json"));
            case "platform":
                return await PlatformBench.RunAsync(Option(args, "--changes", 1000), Option(args, "--offline-seconds", 20));
            case "memory":
                return await MemoryBench.RunAsync(Option(args, "--viewers", 200), TimeSpan.FromSeconds(seconds), TextOrNull(args, "--app"), TextOrNull(args, "--baseline-env"), TextOrNull(args, "--baseline-app"), Option(args, "--rounds", 1));
            case "viewers":
                // The dashboard benchmark's load generator, started by it as a child process.
                return await ViewerLoad.RunChildAsync(Text(args, "--url", ""), Text(args, "--auth", ""), Text(args, "--paths", "").Split(','),
                    Option(args, "--viewers", 1), TimeSpan.FromSeconds(seconds), TimeSpan.FromMilliseconds(Option(args, "--think-ms", 250)), TextOrNull(args, "--fingerprint"));
            case "cluster":
                return await ClusterBench.RunAsync(Option(args, "--projects", 50), Option(args, "--guests", 6), Options(args, "--viewers", [1, 50, 200]),
                    TimeSpan.FromSeconds(seconds), Option(args, "--timing-percent", 100) / 100.0, args.Contains("--json"));
            case "deploy":
                return await DeployBench.RunAsync(Option(args, "--timing-percent", 100) / 100.0, Text(args, "--scenario", "ab"), args.Contains("--json"));
            default:
                await Console.Error.WriteLineAsync("usage: Ctrlable.Bench dashboard [--seconds N] [--viewers 1,50,200] [--json] | deploy [--timing-percent 100] [--scenario ab] [--json] | cluster [--projects 50] [--guests 6] [--viewers 1,50,200] [--seconds 30] [--timing-percent 100] [--json] | platform [--changes 1000] [--offline-seconds 20] | memory [--seconds 30] [--viewers 200] [--app DIR] [--baseline-env K=V,...] [--baseline-app DIR] [--rounds 1]");
                return 2;
        }
    }

    private static int Option(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static string Text(string[] args, string name, string fallback) => TextOrNull(args, name) ?? fallback;

    private static string? TextOrNull(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static int[] Options(string[] args, string name, int[] fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? [.. args[i + 1].Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture))] : fallback;
    }
}
