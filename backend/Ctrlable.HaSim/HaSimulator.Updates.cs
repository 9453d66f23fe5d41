using Ctrlable.HaSim.Http;
using Ctrlable.HaSim.State;

namespace Ctrlable.HaSim;

/// <summary>Supervisor's updates (Core, the OS and the reboot into it) and the VM's disk image for Proxmox snapshots.</summary>
public sealed partial class HaSimulator
{
    /// <summary>Supervisor was asked for an update (caller holds the runtime's lock): carried out in the background.</summary>
    private void Update(HaUpdate update)
    {
        switch (update.Kind)
        {
            case HaUpdateKind.Core:
                _ = Task.Run(() => CoreUpdateAsync(update.Version!, update.Job!));
                break;
            case HaUpdateKind.OsInstalled:
                _disk?.SaveVersions(_ha.Versions);
                break;
            case HaUpdateKind.Reboot:
                // The whole system restarts: Core goes down with it and comes back on the pending OS.
                _restarts.Writer.TryWrite(new RestartRequest(TimeSpan.Zero, Options.RestartDownTime, TimeSpan.Zero, () =>
                {
                    if (_ha.Versions.OsPending is { } pending)
                    {
                        _ha.Versions = _ha.Versions with { Os = pending, OsPending = null };
                        _disk?.SaveVersions(_ha.Versions);
                    }
                }));
                break;
        }
    }

    /// <summary>homeassistant/core.py update: the image is pulled (a failure leaves Core untouched), then Core restarts on the new version.</summary>
    private async Task CoreUpdateAsync(string version, HaJob job)
    {
        try
        {
            await Task.Delay(Options.UpdateDuration, Options.TimeProvider, _disposing.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        lock (_ha.Sync)
        {
            if (_ha.FailNextCoreUpdate is { } failure)
            {
                _ha.FailNextCoreUpdate = null;
                job.Errors.Add(failure.Replace("{version}", version, StringComparison.Ordinal));
                job.Done = true;
                return;
            }
        }

        _restarts.Writer.TryWrite(new RestartRequest(TimeSpan.Zero, Options.RestartDownTime, TimeSpan.Zero, () =>
        {
            _ha.Versions = _ha.Versions with { Core = version };
            _disk?.SaveVersions(_ha.Versions);
            job.Done = true;
        }));
    }

    /// <summary>Core's and the OS's versions now (Supervisor's /core/info and /os/info).</summary>
    public HaVersions Versions
    {
        get
        {
            lock (_ha.Sync)
            {
                return _ha.Versions;
            }
        }
    }

    /// <summary>The next Core update's image pull fails ("Downloading Home Assistant version {version} failed", as Supervisor words it); Core stays as it is.</summary>
    public void FailNextCoreUpdate(string reason = "Downloading Home Assistant version {version} failed")
    {
        lock (_ha.Sync)
        {
            _ha.FailNextCoreUpdate = reason;
        }
    }

    /// <summary>The next OS update fails (RAUC refused the bundle); nothing is pending afterwards.</summary>
    public void FailNextOsUpdate(string reason = "Home Assistant Operating System update failed")
    {
        lock (_ha.Sync)
        {
            _ha.FailNextOsUpdate = reason;
        }
    }

    /// <summary>What is on the VM's disk now (/config once Core ran, host settings, versions): a snapshot of the disk.</summary>
    public HaDiskImage TakeImage()
    {
        lock (_ha.Sync)
        {
            return new HaDiskImage(CoreInstalled ? _ha.Config.ToFiles() : null, _ha.Host, _ha.Versions);
        }
    }

    /// <summary>The VM's disk is rolled back to <paramref name="image"/> (the VM is off): its next start runs what the image holds.</summary>
    public void RestoreImage(HaDiskImage image)
    {
        lock (_ha.Sync)
        {
            if (image.ConfigFiles is { } files)
            {
                _ha.Config = HaConfig.FromFiles(files);
                _disk?.Save(files);
            }

            _ha.Host = image.Host;
            _ha.Versions = image.Versions;
            _disk?.SaveHost(image.Host);
            _disk?.SaveVersions(image.Versions);
        }
    }
}
