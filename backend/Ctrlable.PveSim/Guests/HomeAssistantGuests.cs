using System.Collections.Concurrent;
using System.Net;
using Ctrlable.HaSim;
using Ctrlable.PveSim.Hosting;

namespace Ctrlable.PveSim.Guests;

/// <summary>
/// How the emulator recognises a Home Assistant OS VM: a QEMU guest with the tag <c>ctrlable-haos</c> (the build tags the
/// ctrlable-pro template <c>ctrlable;ctrlable-haos</c>; clones inherit tags).
/// </summary>
public static class HomeAssistantMarker
{
    public const string Tag = "ctrlable-haos";

    public static bool IsMarked(SimGuest guest) => guest.Kind == GuestKind.Qemu && guest.Tags.Contains(Tag, StringComparer.OrdinalIgnoreCase);
}

/// <summary>
/// One <see cref="HaSimulator"/> per running Home Assistant OS guest, on the guest's own address and the shared ports:
/// started when the guest's network comes up, powered off (state kept, as on the VM's disk) when the guest stops, gone
/// when it is destroyed.
/// </summary>
internal sealed class HomeAssistantGuests : IAsyncDisposable
{
    private readonly SimContext _sim;
    private readonly HaSimOptions? _options;
    private readonly ConcurrentDictionary<int, Task<HaSimulator>> _guests = new();
    private readonly ConcurrentDictionary<int, byte> _coreStopped = new();

    public HomeAssistantGuests(SimContext sim)
    {
        _sim = sim;
        if (sim.Options.HomeAssistant is { } options)
        {
            var scale = sim.Options.TimingScale;
            var legacy = options.LegacyPort == 0 ? LoopbackPorts.Free([]) : options.LegacyPort;
            var http = options.HttpPort == 0 ? LoopbackPorts.Free([legacy]) : options.HttpPort;
            var zwaveJsCheck = options.ZwaveJsCheck;
            _options = options with
            {
                // A Z-Wave JS server is its controller: its home id stays when the guest's address changes, so a URL that
                // reaches an emulated zwavejs guest (by address, or by host name where the site's DNS would serve it)
                // answers with that guest's home id. Any other URL is the configured check's.
                ZwaveJsCheck = (url, ct) => ZwaveJsServerAt(url) is { } vmid
                    ? Task.FromResult<ZwaveJsServerInfo?>(new ZwaveJsServerInfo(0x5A000000L + vmid))
                    : zwaveJsCheck(url, ct),
                LegacyPort = legacy,
                HttpPort = http,
                LandingDuration = options.LandingDuration * scale,
                RestoreDownTime = options.RestoreDownTime * scale,
                LandingAfterRestore = options.LandingAfterRestore * scale,
                RestoreStopDelay = options.RestoreStopDelay * scale,
                RestartDownTime = options.RestartDownTime * scale,
                BackupLoadDelay = options.BackupLoadDelay * scale,
                UpdateDuration = options.UpdateDuration * scale,
            };
        }
    }

    /// <summary>The ports every emulated Home Assistant listens on (8123's stand-in, 80's stand-in); null when disabled.</summary>
    public (int LegacyPort, int HttpPort)? Ports => _options is null ? null : (_options.LegacyPort, _options.HttpPort);

    public HaSimulator? Get(int vmid) =>
        _guests.TryGetValue(vmid, out var task) && task.IsCompletedSuccessfully ? task.Result : null;

    /// <summary>The guest's network is up: boot its Home Assistant (first time) or power it on again.</summary>
    public async Task BootAsync(SimGuest guest, IPAddress address)
    {
        if (_options is null || !HomeAssistantMarker.IsMarked(guest))
        {
            return;
        }

        var created = false;
        bool coreOnDisk;
        lock (_sim.State.Sync)
        {
            coreOnDisk = guest.HomeAssistantCoreOnDisk;
        }

        var task = _guests.GetOrAdd(guest.Vmid, _ =>
        {
            created = true;
            var vmid = guest.Vmid;
            var options = _options with
            {
                Address = address.ToString(),
                DiskDirectory = DiskOf(vmid),
                // Supervisor gave the VM another address: the guest agent reports it from now on.
                AddressChanged = moved =>
                {
                    lock (_sim.State.Sync)
                    {
                        if (_sim.State.Guest(vmid) is { Running: true } running)
                        {
                            running.Address = moved;
                            running.AddressPrefix = null;
                        }
                    }
                },
            };
            return HaSimulator.StartAsync(coreOnDisk ? options with { LandingDuration = TimeSpan.Zero } : options, _sim.ShuttingDown);
        });
        var ha = await task;
        if (!created)
        {
            ha.PowerOn();
        }
    }

    /// <summary>The running zwavejs guest a Z-Wave JS URL reaches: its address (or its host name) is the URL's host.</summary>
    private int? ZwaveJsServerAt(Uri url)
    {
        var host = url.Host.Trim('[', ']');
        lock (_sim.State.Sync)
        {
            return _sim.State.Guests.Values
                .Where(g => g.Running && GuestApps.TypeOf(g) == "zwavejs")
                .FirstOrDefault(g => g.Address?.ToString() == host || string.Equals(g.Name, host, StringComparison.OrdinalIgnoreCase))?.Vmid;
        }
    }

    /// <summary>The static address the guest's Home Assistant was given through its Supervisor (on its disk); null with DHCP or none.</summary>
    public IPAddress? StaticAddress(int vmid) => Get(vmid)?.StaticAddress;

    /// <summary>
    /// Whether Core is on the guest's disk: recorded (seeded, cloned, restored from a snapshot) or its Home Assistant
    /// has run Core here. Clones and snapshots carry it on.
    /// </summary>
    public bool CoreOnDisk(SimGuest guest) => guest.HomeAssistantCoreOnDisk || Get(guest.Vmid)?.CoreInstalled == true;

    /// <summary>Core stops while the VM runs (its app is down): nothing answers on the guest's ports until <see cref="StartCore"/> or the VM's next start.</summary>
    public async Task<bool> StopCoreAsync(int vmid)
    {
        if (Get(vmid) is not { } ha)
        {
            return false;
        }

        if (_coreStopped.TryAdd(vmid, 0))
        {
            await ha.PowerOffAsync();
        }

        return true;
    }

    /// <summary>Core starts again after <see cref="StopCoreAsync"/>.</summary>
    public bool StartCore(int vmid)
    {
        if (Get(vmid) is not { } ha)
        {
            return false;
        }

        if (_coreStopped.TryRemove(vmid, out _))
        {
            ha.PowerOn();
        }

        return true;
    }

    /// <summary>Whether Core was stopped by <see cref="StopCoreAsync"/> (null: no Home Assistant in that guest).</summary>
    public bool? CoreRunning(int vmid) => Get(vmid) is null ? null : !_coreStopped.ContainsKey(vmid);

    /// <summary>The guest's Home Assistant disk now (for a snapshot); null when none ran in it.</summary>
    public object? TakeImage(int vmid) => Get(vmid)?.TakeImage();

    /// <summary>The guest was rolled back to a snapshot: its Home Assistant's disk is the snapshot's again.</summary>
    public Task RestoreImageAsync(int vmid, object? image)
    {
        if (Get(vmid) is { } ha && image is HaDiskImage disk)
        {
            ha.RestoreImage(disk);
        }

        return Task.CompletedTask;
    }

    public void Stopped(int vmid)
    {
        // Core stopped by hand is off already: the VM's start powers it on once, as for any stop.
        if (_coreStopped.TryRemove(vmid, out _))
        {
            return;
        }

        if (_guests.TryGetValue(vmid, out var task))
        {
            _ = task.ContinueWith(t => t.Result.PowerOffAsync(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default).Unwrap();
        }
    }

    public void Destroyed(int vmid)
    {
        _coreStopped.TryRemove(vmid, out _);
        _guests.TryRemove(vmid, out var started);
        _ = Task.Run(async () =>
        {
            if (started is not null)
            {
                try
                {
                    await (await started).DisposeAsync();
                }
                catch (OperationCanceledException)
                {
                    // never started: the emulator is shutting down
                }
            }

            // The VM's disk is gone with it.
            if (DiskOf(vmid) is { } disk && Directory.Exists(disk))
            {
                Directory.Delete(disk, recursive: true);
            }
        });
    }

    private string? DiskOf(int vmid) =>
        _sim.Options.HomeAssistantDisks is { } disks ? Path.Combine(disks, vmid.ToString(System.Globalization.CultureInfo.InvariantCulture)) : null;

    public async ValueTask DisposeAsync()
    {
        foreach (var (_, task) in _guests)
        {
            try
            {
                await (await task).DisposeAsync();
            }
            catch (OperationCanceledException)
            {
                // never started
            }
        }

        _guests.Clear();
    }
}
