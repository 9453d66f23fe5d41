using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Provision;

/// <summary>
/// How one guest of a site reaches another: by address, never by a name the LAN may not resolve — unless the site
/// settings say its DNS serves the guests' host names (<see cref="AddressingSettings.DnsServesHostnames"/>). The
/// address is the instance's static one (a static plan), else the one it was last seen with (DHCP).
/// </summary>
public sealed class SiteAddresses(InstanceRepository instances, AddressAllocator allocator, InstanceSteps steps, InstanceChanges changes)
{
    /// <summary>The host name or address <paramref name="target"/> is reached at; null while its address is not known yet.</summary>
    public static string? Reach(InstanceRow target, SiteSettings settings) =>
        settings.Addressing.DnsServesHostnames ? target.Hostname : target.StaticIp ?? target.Ip;

    /// <summary>
    /// Where the project's own broker (the Mosquitto of its Home Assistant) is reached, for <paramref name="instance"/>'s
    /// assignment: the Home Assistant's host name when the site's DNS serves it, its static address (allocated now when
    /// it has none yet), or under DHCP its located address — waited for while Home Assistant is still deploying. Null
    /// when the project has no Home Assistant.
    /// </summary>
    public async Task<string?> ProjectBrokerHostAsync(InstanceRow instance, SiteSettings settings, CancellationToken ct)
    {
        var homeAssistant = await HomeAssistantOfAsync(instance.ProjectId, ct);
        if (homeAssistant is null)
        {
            return null;
        }

        if (settings.Addressing.DnsServesHostnames)
        {
            return homeAssistant.Hostname;
        }

        if (AddressPlan.Of(settings.Addressing) is { } plan)
        {
            return (await allocator.AllocateAsync(homeAssistant.Id, plan, ct)).ToString();
        }

        // Under DHCP Home Assistant's address is known once its locating step saw it: waited for on the change stream.
        var current = await instances.GetAsync(homeAssistant.Id, ct);
        if (!Settled(current))
        {
            await steps.SayAsync(instance, $"Waiting for the address of {homeAssistant.Hostname} (the site's MQTT broker)", ct);
            current = await changes.WaitForRowAsync(homeAssistant.Id, Settled, ct);
        }

        return current?.Ip ?? throw new AddressingException(
            $"The project's Home Assistant ({homeAssistant.Hostname}) hosts the MQTT broker but has no known address ({current?.State ?? "deleted"}{(current?.Error is { } e ? $": {e}" : "")}). Retry this instance once Home Assistant runs, or set an external broker in the site settings.");
    }

    /// <summary>Home Assistant's address is known, or will not be: it is gone, finished without one, or being deleted.</summary>
    private static bool Settled(InstanceRow? homeAssistant) =>
        homeAssistant is null || homeAssistant.Ip is not null || homeAssistant.IsFinished || homeAssistant.State is InstanceStates.Deleting;

    /// <summary>
    /// Where the project's own broker is reached now, without waiting (a guest following its broker asks, §7b): the Home
    /// Assistant's host name when the site's DNS serves it, else its static or last seen address; null while that is not
    /// known; the name <c>&lt;slug&gt;-ctrlable-pro</c> when the project has no Home Assistant (as its assignment said).
    /// </summary>
    public async Task<string?> BrokerHostNowAsync(long projectId, SiteSettings settings, CancellationToken ct)
    {
        if (await HomeAssistantOfAsync(projectId, ct) is { } homeAssistant)
        {
            return Reach(homeAssistant, settings);
        }

        return await instances.GetProjectAsync(projectId, ct) is { } project ? $"{project.Slug}-{TemplateTypes.CtrlablePro}" : null;
    }

    /// <summary>The project's Home Assistant: the live ctrlable-pro instance, an active one first, then the oldest.</summary>
    private async Task<InstanceRow?> HomeAssistantOfAsync(long projectId, CancellationToken ct) =>
        (await instances.ListByProjectAsync(projectId, includeDeleted: false, ct))
            .Where(i => i.Type == TemplateTypes.CtrlablePro && i.State != InstanceStates.Deleting)
            .OrderBy(i => i.State == InstanceStates.Active ? 0 : i.State == InstanceStates.Failed ? 2 : 1)
            .ThenBy(i => i.Id)
            .FirstOrDefault();
}
