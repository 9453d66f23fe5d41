using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.HomeAssistant.Setup;

/// <summary>
/// The Home Assistant steps of a ctrlable-pro instance, after its VM started. HAOS has no first-boot script of ours,
/// so the orchestrator drives it from outside over Home Assistant's own API: locate it (guest agent, live port), wait
/// through the landing phase, restore the release's base backup during onboarding (a per-site copy with a fresh
/// core.uuid unless the release keeps it), sign in with the base credentials and rotate them, then wire the project's
/// services through config flows. Each step records what it did (homeassistant_sites) and starts by looking at what
/// Home Assistant holds, so a restarted orchestrator resumes it without uploading or restoring twice.
/// </summary>
public sealed class HomeAssistantSetup(
    InstanceRepository instances,
    HomeAssistantRepository sites,
    PhaseSupport support,
    LocatePhase locate,
    PreparePhase prepare,
    RestorePhase restore,
    SecurePhase secure,
    WirePhase wire,
    InstanceSteps steps,
    TimeProvider time)
{
    /// <summary>The tag host/ctrlable-build puts on the ctrlable-pro template (HAOS); clones keep it.</summary>
    public const string TemplateTag = "ctrlable-haos";

    /// <summary>The per-site user the orchestrator keeps a long-lived token of.</summary>
    public const string OrchestratorUsername = "ctrlable-orchestrator";

    /// <summary>Points inside the steps where a crash test can stop the orchestrator.</summary>
    public const string BackupUploaded = "ha-backup-uploaded";
    public const string RestoreRequested = "ha-restore-requested";
    public const string AdminRotated = "ha-admin-rotated";
    public const string HostnameSet = "ha-hostname-set";
    public const string NetworkRequested = "ha-network-requested";

    /// <summary>The long-lived token's client name and lifespan (also when an admin rotates it, Handover/).</summary>
    internal const string TokenClientName = "Ctrlable Provisioner";
    internal const int TokenLifespanDays = 3650;

    public static string AdminSecretName(long instanceId) => $"instance/{instanceId}/homeassistant-admin";

    public static string OrchestratorSecretName(long instanceId) => $"instance/{instanceId}/homeassistant-orchestrator";

    /// <summary>
    /// Runs the instance's current Home Assistant step. Home Assistant restarts on its own (a restore, an add-on, an
    /// update): while it does not answer, the step is run again — every step looks first, so that is safe — until the
    /// step's recorded deadline; then the pipeline fails the instance with Home Assistant's last error.
    /// </summary>
    public async Task RunStepAsync(InstanceRow instance, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await (instance.State switch
                {
                    InstanceStates.Locating => locate.RunAsync(instance, ct),
                    InstanceStates.Preparing => prepare.RunAsync(instance, ct),
                    InstanceStates.Restoring => restore.RunAsync(instance, ct),
                    InstanceStates.Securing => secure.RunAsync(instance, ct),
                    InstanceStates.Wiring => wire.RunAsync(instance, ct),
                    _ => throw new InvalidOperationException($"{instance.State} is not a Home Assistant step."),
                });
                return;
            }
            catch (HomeAssistantException ex) when (ex.IsTransient || ex.Code == "moved")
            {
                var current = await instances.GetAsync(instance.Id, ct);
                if (current is null || current.State != instance.State)
                {
                    return;
                }

                if (current.DeadlineAt is { } deadline ? time.GetUtcNow() > deadline : attempt >= 10)
                {
                    if (current.State == InstanceStates.Wiring && (await sites.FindAsync(instance.Id, ct))?.WiredAt is not null)
                    {
                        // A later service could not be wired: Home Assistant itself runs as before.
                        await steps.MoveAsync(current, InstanceStates.Active, "Running; a service could not be wired", error: ex.Message, ct: ct);
                        return;
                    }

                    throw;
                }

                if (ex.Code == "moved" && (await sites.FindAsync(instance.Id, ct))?.Url is { } url)
                {
                    await support.RelocateAsync(instance, new Uri(url), ct);
                }

                await steps.SayAsync(current, $"Home Assistant is not answering ({ex.Message}); trying again", ct);
                await Task.Delay(support.Poll, time, ct);
                instance = current;
            }
        }
    }
}
