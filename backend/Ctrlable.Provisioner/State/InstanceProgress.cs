namespace Ctrlable.Provisioner.State;

/// <summary>One instance's progress through the pipeline, as the SPA and integrators see it.</summary>
public sealed record InstanceProgress(
    long InstanceId,
    long ProjectId,
    long? DeployId,
    string Hostname,
    string Type,
    string State,
    int Percent,
    string? Message,
    string? Error,
    DateTimeOffset At,
    [property: System.ComponentModel.Description("The guest's address as last seen (under DHCP it follows the guest's lease).")] string? Ip = null,
    [property: System.ComponentModel.Description("Where the app is opened (Home Assistant's located URL).")] string? AppUrl = null)
{
    public static InstanceProgress Of(InstanceRow row) => new(
        row.Id, row.ProjectId, row.DeployId, row.Hostname, row.Type, row.State, PercentOf(row.State), row.Message, row.Error, row.UpdatedAt, row.Ip, row.AppUrl);

    public static int PercentOf(string state) => state switch
    {
        InstanceStates.Pending => 0,
        InstanceStates.Cloning => 20,
        InstanceStates.Configuring => 45,
        InstanceStates.Starting => 60,
        InstanceStates.Waiting => 75,
        InstanceStates.Personalising => 90,
        InstanceStates.Locating => 65,
        InstanceStates.Preparing => 70,
        InstanceStates.Restoring => 78,
        InstanceStates.Securing => 88,
        InstanceStates.Wiring => 94,
        InstanceStates.Deleting => 50,
        InstanceStates.Upgrading => 50,
        InstanceStates.RollingBack => 80,
        _ => 100,
    };
}
