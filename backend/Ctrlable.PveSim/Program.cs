using Ctrlable.PveSim;
using Ctrlable.PveSim.Hosting;

// Standalone emulator: dotnet run --project backend/Ctrlable.PveSim -- --port 8006 --nodes pve1,pve2
var options = CommandLine.Parse(args);
if (options is null)
{
    Console.WriteLine(CommandLine.Usage);
    return 2;
}

await using var sim = await PveSimulator.StartAsync(options.Simulator);
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

Console.WriteLine($"  faults: {new Uri(sim.BaseAddress, "/_sim/faults")}");
Console.WriteLine("Ctrl+C to stop.");

var stop = new TaskCompletionSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.TrySetResult();
};
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.TrySetResult();
await stop.Task;
return 0;
