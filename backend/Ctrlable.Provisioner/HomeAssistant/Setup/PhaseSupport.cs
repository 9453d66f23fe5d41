using System.Text.Json;
using System.Text.Json.Nodes;
using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.HomeAssistant.Setup;

/// <summary>
/// What every Home Assistant step needs: the site's recorded URL (found again when the port moved), whether the
/// instance is still in the step, the step's deadline, and moving on or failing.
/// </summary>
public sealed class PhaseSupport(
    InstanceRepository instances,
    HomeAssistantRepository sites,
    HomeAssistantClient ha,
    InstanceSteps steps,
    InstanceTransitions transitions,
    IOptions<HomeAssistantOptions> options,
    TimeProvider time,
    ILogger<PhaseSupport> logger)
{
    public HomeAssistantOptions Options => options.Value;
    public TimeSpan Poll => TimeSpan.FromSeconds(Options.PollIntervalSeconds);
    public TimeSpan RequestTimeout => TimeSpan.FromSeconds(Options.RequestTimeoutSeconds);

    public async Task<Uri> UrlAsync(InstanceRow instance, CancellationToken ct) =>
        (await sites.FindAsync(instance.Id, ct))?.Url is { } url
            ? new Uri(url)
            : throw new HomeAssistantException($"Home Assistant's address of instance {instance.Id} is not recorded; retry the instance.");

    public async Task RelocateIfGoneAsync(InstanceRow instance, Uri url, OnboardingStatus status, CancellationToken ct)
    {
        if (status.Phase == OnboardingPhase.NotReady && (status.Detail == "not answering" || status.Detail.StartsWith("HTTP 3", StringComparison.Ordinal)))
        {
            await RelocateAsync(instance, url, ct);
        }
    }

    /// <summary>The live port moved (a restore brings back the base's port, or Core 2026.8 switched to 80): find it again.</summary>
    public async Task RelocateAsync(InstanceRow instance, Uri url, CancellationToken ct)
    {
        if (await ha.FindLivePortAsync(url.Host.Trim('[', ']'), ct) is { } port && port != url.Port)
        {
            var moved = HomeAssistantClient.SiteUrl(url.Host.Trim('[', ']'), port).ToString();
            await sites.SetUrlAsync(instance.Id, moved, ct);
            await transitions.SetAppUrlAsync(instance.Id, moved, ct);
        }
    }

    /// <summary>Whether the instance is still in the step this call drives (a delete or another request may have moved it).</summary>
    public async Task<bool> StillAsync(InstanceRow instance, CancellationToken ct) =>
        (await instances.GetAsync(instance.Id, ct))?.State == instance.State;

    /// <summary>The instance as recorded now, while it is still in the step this call drives; null once it is not.</summary>
    public async Task<InstanceRow?> CurrentAsync(InstanceRow instance, CancellationToken ct) =>
        await instances.GetAsync(instance.Id, ct) is { } current && current.State == instance.State ? current : null;

    /// <summary>The step's deadline: recorded when the step began, so a restart does not extend it.</summary>
    public async Task<DateTimeOffset> DeadlineAsync(InstanceRow instance, double seconds, CancellationToken ct)
    {
        if (instance.DeadlineAt is { } recorded)
        {
            return recorded;
        }

        var deadline = time.GetUtcNow().AddSeconds(seconds);
        await instances.SetDeadlineAsync(instance.Id, deadline, ct);
        return deadline;
    }

    public async Task NextAsync(InstanceRow instance, string state, string message, double deadlineSeconds, CancellationToken ct)
    {
        await instances.SetDeadlineAsync(instance.Id, time.GetUtcNow().AddSeconds(deadlineSeconds), ct);
        await steps.MoveAsync(instance, state, message, ct: ct);
    }

    public async Task FailAsync(InstanceRow instance, string message, string error, CancellationToken ct)
    {
        logger.LogWarning("Instance {Instance} ({Hostname}) failed: {Error}", instance.Id, instance.Hostname, error);
        await instances.SetDeadlineAsync(instance.Id, null, ct);
        await steps.MoveAsync(instance, InstanceStates.Failed, message, error: error, ct: ct);
    }

    /// <summary>Records where Home Assistant answers: the site's URL, the instance's address and its app URL.</summary>
    public async Task<Uri> MoveToAsync(InstanceRow instance, string address, int port, CancellationToken ct)
    {
        var url = HomeAssistantClient.SiteUrl(address, port);
        await sites.SetUrlAsync(instance.Id, url.ToString(), ct);
        await instances.SetIpAsync(instance.Id, address, ct);
        await transitions.SetAppUrlAsync(instance.Id, url.ToString(), ct);
        return url;
    }

    public static string Minutes(double seconds) => seconds >= 120 ? $"{seconds / 60:0.#} min" : $"{seconds:0} s";

    public static Task<JsonElement> SupervisorAsync(HomeAssistantSocket socket, string endpoint, string method, JsonObject? data, CancellationToken ct)
    {
        var fields = new JsonObject { ["endpoint"] = endpoint, ["method"] = method };
        if (data is not null)
        {
            fields["data"] = data;
        }

        return socket.CommandAsync("supervisor/api", fields, ct);
    }
}
