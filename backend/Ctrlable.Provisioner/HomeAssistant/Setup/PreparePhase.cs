using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.HomeAssistant.Setup;

/// <summary>Home Assistant step "preparing": the landing phase, until Core answers onboarding.</summary>
public sealed class PreparePhase(
    PhaseSupport support,
    HomeAssistantClient ha,
    InstanceSteps steps,
    TimeProvider time)
{
    /// <summary>Waits until Core answers onboarding: fresh (restore next), or onboarded already (a resumed or retried deploy).</summary>
    public async Task RunAsync(InstanceRow instance, CancellationToken ct)
    {
        var deadline = await support.DeadlineAsync(instance, support.Options.PrepareTimeoutSeconds, ct);
        while (await support.CurrentAsync(instance, ct) is { } current)
        {
            deadline = current.DeadlineAt ?? deadline;
            var url = await support.UrlAsync(instance, ct);
            var status = await ha.GetOnboardingAsync(url, ct);
            switch (status.Phase)
            {
                case OnboardingPhase.Fresh:
                    await support.NextAsync(instance, InstanceStates.Restoring, "Home Assistant is ready; restoring the base backup", support.Options.RestoreTimeoutSeconds, ct);
                    return;
                case OnboardingPhase.Onboarded:
                    // Restored already (a resumed or retried deploy): the sign-in tells whether it is ours.
                    await support.NextAsync(instance, InstanceStates.Restoring, "Home Assistant is onboarded already; checking the restore", support.Options.RestoreTimeoutSeconds, ct);
                    return;
                case OnboardingPhase.Partial:
                    await support.FailAsync(instance, "Home Assistant was onboarded by hand", PartialMessage(status), ct);
                    return;
            }

            if (time.GetUtcNow() > deadline)
            {
                await support.FailAsync(instance, "Home Assistant did not get ready",
                    $"Home Assistant at {url} was still not ready ({status.Detail}) after {PhaseSupport.Minutes(support.Options.PrepareTimeoutSeconds)}. On its first start it installs Home Assistant Core; check the VM's console and its internet access.", ct);
                return;
            }

            await support.RelocateIfGoneAsync(instance, url, status, ct);
            await steps.SayAsync(instance, $"Preparing Home Assistant ({status.Detail})", ct);
            await Task.Delay(support.Poll, time, ct);
        }
    }

    internal static string PartialMessage(OnboardingStatus status) =>
        $"Someone started Home Assistant's onboarding on this VM ({status.Detail}). The base backup can only be restored before any onboarding step: delete the instance and deploy it again.";
}
