using System.Collections.Concurrent;
using System.Net;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Demo;

/// <summary>
/// Demo mode's stand-in for the guests' <c>ctrlable-upgrade.timer</c> (the emulator schedules no timers): when an LXC
/// instance's upgrade waits for its guest, the guest's upgrade run starts in its sandbox, from its address, as the
/// timer would start it within two minutes. One run per instance at a time.
/// </summary>
public sealed class SimulatedUpgradeTimer(InstanceChanges changes, SimulatedProxmoxHost host, ILogger<SimulatedUpgradeTimer> logger) : IHostedService
{
    private readonly ConcurrentDictionary<long, byte> _running = new();
    private IDisposable? _subscription;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _subscription = changes.Subscribe(change =>
        {
            if (change.Instance is { State: InstanceStates.Upgrading, Kind: "lxc", Vmid: { } vmid, Ip: { } ip } instance
                && instance.Message?.Contains("waiting for the guest to run its update", StringComparison.Ordinal) == true
                && IPAddress.TryParse(ip, out var address) && _running.TryAdd(instance.Id, 0))
            {
                _ = Task.Run(async () =>
                {
                    try
                    {
                        var (status, error) = await host.FirstBoot.RunUpgradeAsync((int)vmid, address, CancellationToken.None);
                        if (status != 0)
                        {
                            logger.LogInformation("Simulated guest {Vmid}: its upgrade run ended with status {Status}: {Error}", vmid, status, error);
                        }
                    }
                    catch (Exception ex) when (ex is InvalidOperationException or IOException)
                    {
                        logger.LogWarning("Simulated guest {Vmid}: no upgrade run: {Reason}", vmid, ex.Message);
                    }
                    finally
                    {
                        _running.TryRemove(instance.Id, out _);
                    }
                });
            }
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _subscription?.Dispose();
        return Task.CompletedTask;
    }
}
