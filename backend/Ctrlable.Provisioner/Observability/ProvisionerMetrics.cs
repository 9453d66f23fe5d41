using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace Ctrlable.Provisioner.Observability;

/// <summary>
/// The orchestrator's own instruments, defined once on the meter <see cref="MeterName"/>; the features record into them
/// (SPEC §8e). Labels are bounded, non-secret sets: step and state names, route templates (never a VMID, UPID or node
/// name), status codes, app types, outcomes.
/// </summary>
public sealed class ProvisionerMetrics
{
    public const string MeterName = "Ctrlable.Provisioner";

    private readonly Histogram<double> _deployStep;
    private readonly Counter<long> _proxmoxRequests;
    private readonly Histogram<double> _proxmoxDuration;
    private readonly Histogram<double> _firstBoot;
    private readonly Histogram<double> _build;
    private readonly UpDownCounter<long> _sseSubscribers;

    // services: where the outbox gauge finds the platform outbox when scraped (absent, as in Proxmox-only tests: no value).
    public ProvisionerMetrics(IMeterFactory meters, IServiceProvider services)
    {
        // From the factory: the meter lives and dies with this service provider (tests run several apps in one process).
        var meter = meters.Create(MeterName);
        _deployStep = meter.CreateHistogram("ctrlable.deploy.step.duration", "s",
            "Duration of one deploy pipeline step, by step (the instance state it ran from) and outcome (ok, retry, failed, error).",
            advice: Buckets(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800));
        _proxmoxRequests = meter.CreateCounter<long>("ctrlable.proxmox.requests", "{request}",
            "Proxmox API requests (each attempt), by method, route template and status (the HTTP status, or 'error' when no answer came).");
        _proxmoxDuration = meter.CreateHistogram("ctrlable.proxmox.request.duration", "s",
            "Latency of one Proxmox API request (each attempt), by method, route template and status.",
            advice: Buckets(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30));
        _firstBoot = meter.CreateHistogram("ctrlable.firstboot.duration", "s",
            "A guest's first boot, from its first assignment fetch to its report, by app type and outcome (ok, failed).",
            advice: Buckets(5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600));
        _build = meter.CreateHistogram("ctrlable.build.duration", "s",
            "A release build, from its start to its end, by outcome (succeeded, failed).",
            advice: Buckets(30, 60, 300, 600, 1200, 1800, 3600, 7200, 14400));
        _sseSubscribers = meter.CreateUpDownCounter<long>("ctrlable.sse.subscribers", "{subscriber}",
            "Open Server-Sent Events streams, by stream (instances: project and deploy progress; build: a running build's log).");
        // Read when scraped: a count over a table that a delivered report empties.
        meter.CreateObservableGauge("ctrlable.platform.outbox.depth",
            () => services.GetService<IOutboxDepth>() is { } outbox ? [new Measurement<long>(outbox.CountOutbox())] : Array.Empty<Measurement<long>>(),
            "{change}", "Changes waiting in the platform outbox for the next report.");
    }

    public void DeployStep(string step, string outcome, TimeSpan duration) =>
        _deployStep.Record(duration.TotalSeconds, new("step", step), new("outcome", outcome));

    public void ProxmoxRequest(string method, string route, string status, TimeSpan duration)
    {
        var tags = new TagList { { "method", method }, { "route", route }, { "status", status } };
        _proxmoxRequests.Add(1, tags);
        _proxmoxDuration.Record(duration.TotalSeconds, tags);
    }

    public void FirstBoot(string type, string outcome, TimeSpan duration) =>
        _firstBoot.Record(duration.TotalSeconds, new("type", type), new("outcome", outcome));

    public void Build(string outcome, TimeSpan duration) =>
        _build.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("outcome", outcome));

    /// <summary>Counts <paramref name="events"/> as one open <paramref name="stream"/> subscriber while a client reads it.</summary>
    public async IAsyncEnumerable<T> Subscribed<T>(IAsyncEnumerable<T> events, string stream, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var tag = new KeyValuePair<string, object?>("stream", stream);
        _sseSubscribers.Add(1, tag);
        try
        {
            await foreach (var item in events.WithCancellation(ct))
            {
                yield return item;
            }
        }
        finally
        {
            _sseSubscribers.Add(-1, tag);
        }
    }

    private static InstrumentAdvice<double> Buckets(params double[] boundaries) => new() { HistogramBucketBoundaries = boundaries };
}

/// <summary>
/// What the outbox-depth gauge reads when scraped. The platform feature registers its outbox as this, so the metrics
/// (used by every feature) know no feature.
/// </summary>
public interface IOutboxDepth
{
    long CountOutbox();
}
