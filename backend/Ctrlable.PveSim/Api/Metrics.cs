namespace Ctrlable.PveSim.Api;

/// <summary>
/// Plausible, repeatable load figures: a value depends only on (series, time bucket), so repeated reads and
/// RRD series agree with each other.
/// </summary>
internal static class Metrics
{
    /// <summary>A value in [0, 1) for a series at a time bucket: smooth daily wave plus per-bucket noise.</summary>
    public static double Unit(string series, long bucket)
    {
        var wave = (Math.Sin(bucket / 240.0 + Hash(series, 0) * Math.Tau) + 1) / 2;
        var noise = Hash(series, bucket);
        return (wave * 0.6) + (noise * 0.4);
    }

    public static double CpuFraction(string series, long bucket, double baseLoad) =>
        Math.Round(baseLoad * (0.5 + Unit(series + "/cpu", bucket)), 6);

    public static long Fraction(long max, string series, long bucket, double low, double high) =>
        (long)(max * (low + ((high - low) * Unit(series, bucket))));

    /// <summary>Counter that only grows: bytes per second since a start time.</summary>
    public static long Counter(string series, long seconds, double bytesPerSecond) =>
        (long)(seconds * bytesPerSecond * (0.8 + (0.4 * Hash(series, 1))));

    private static double Hash(string series, long bucket)
    {
        var h = 14695981039346656037UL;
        foreach (var c in series)
        {
            h = (h ^ c) * 1099511628211UL;
        }

        h = (h ^ (ulong)bucket) * 1099511628211UL;
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdUL;
        h ^= h >> 33;
        return (h % 1_000_000) / 1_000_000.0;
    }
}
