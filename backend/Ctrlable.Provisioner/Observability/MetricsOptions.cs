namespace Ctrlable.Provisioner.Observability;

/// <summary>Who may read <c>/metrics</c> besides an admin (SPEC §8e).</summary>
public sealed class MetricsOptions
{
    public const string Section = "Metrics";

    /// <summary>A scraper on this host (loopback) reads /metrics without a token. Off by default.</summary>
    public bool AllowLoopback { get; set; }
}
