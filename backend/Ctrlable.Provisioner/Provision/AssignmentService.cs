using Ctrlable.Provisioner.Projects;

namespace Ctrlable.Provisioner.Provision;

public sealed record AssignmentSummary(bool NeedsBinding, IReadOnlyList<string> Warnings);

/// <summary>
/// PLACEHOLDER until the first-boot contract lands (issue #6, in progress on its own branch): the real
/// service generates and stores each instance's wiring and secrets. This one only reports USB bindings.
/// </summary>
public sealed class AssignmentService
{
    public Task<AssignmentSummary> CreateAsync(long instanceId, string type, string hostname, string release, long projectId, SiteSettings settings, CancellationToken ct)
    {
        var usb = (type == "zigbee2mqtt" && settings.Zigbee.Mode == CoordinatorMode.Usb) || (type == "zwavejs" && settings.Zwave.Mode == CoordinatorMode.Usb);
        return Task.FromResult(new AssignmentSummary(usb, []));
    }

    public Task DeleteAsync(long instanceId, CancellationToken ct) => Task.CompletedTask;
}
