using System.Runtime.InteropServices;
using Ctrlable.PveSim.Hosting;

namespace Ctrlable.PveSim;

/// <summary>
/// Standalone emulator: <c>dotnet run --project backend/Ctrlable.PveSim -- --port 8006 --nodes pve1,pve2</c>.
/// An explicit class (not top-level statements) so that hosts referencing this project keep their own <c>Program</c>.
/// </summary>
public static class StandaloneServer
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == BaseBackupCommand.Switch)
        {
            return await BaseBackupCommand.RunAsync(args[1..], Console.In, Console.Out, Console.Error);
        }

        var options = CommandLine.Parse(args);
        if (options is null)
        {
            Console.WriteLine(CommandLine.Usage);
            return 2;
        }

        PveSimulator started;
        try
        {
            started = await PveSimulator.StartAsync(options.Simulator);
        }
        catch (ArgumentException e)
        {
            // A seed Proxmox would refuse too, e.g. a privilege the emulated release does not know.
            Console.Error.WriteLine($"seed rejected: {e.Message}");
            return 1;
        }

        await using var sim = started;
        var seeded = options.SeedTokens(sim);
        Console.WriteLine($"PveSim emulating Proxmox VE {sim.Version.ManagerVersion()} ({string.Join(", ", sim.NodeEndpoints.Select(e => e.Node))})");
        foreach (var endpoint in sim.NodeEndpoints)
        {
            Console.WriteLine($"  {endpoint.Node}: {endpoint.BaseAddress}");
            Console.WriteLine($"    fingerprint {endpoint.CertificateFingerprint}");
        }

        foreach (var token in seeded)
        {
            Console.WriteLine($"  token: {token.AuthorizationHeader}");
        }

        if (options.Simulator.AdminEndpoints)
        {
            Console.WriteLine($"  faults: {new Uri(sim.BaseAddress, "/_sim/faults")} (all off)");
        }

        Console.WriteLine("Ctrl+C to stop.");

        // Ctrl+C and SIGTERM end the loop so the snapshot is written on the way out.
        var stop = new TaskCompletionSource();
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.TrySetResult();
        }

        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        await stop.Task;
        return 0;
    }
}
