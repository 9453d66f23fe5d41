using System.Text.Json.Nodes;

namespace Ctrlable.PveSim.Api;

/// <summary>
/// RRD series shaped like pve-cluster's rrd dumps: fixed steps per timeframe (PVE 8: 70 rows; PVE 9: the
/// 9.0 RRD layout), aligned timestamps, buckets before the object existed carry only "time".
/// </summary>
internal static class Rrd
{
    public static JsonArray Series(
        PveRequest r,
        string series,
        DateTimeOffset since,
        Func<long, long, string, JsonObject> values,
        Action<JsonObject>? version9Extras = null)
    {
        var v9 = r.Sim.Options.Version == PveVersion.V9_1;
        var (step, rows) = (r.Get("timeframe"), v9) switch
        {
            ("hour", false) => (60, 70),
            ("day", false) => (1800, 70),
            ("week", false) => (10800, 70),
            ("month", false) => (43200, 70),
            ("year", false) => (604800, 70),
            ("hour", true) => (60, 60),
            ("day", true) => (60, 1440),
            ("week", true) => (1800, 336),
            ("month", true) => (1800, 1440),
            ("year", true) => (21600, 1440),
            (_, true) => (604800, 520),
            _ => (60, 70),
        };

        var max = r.Get("cf") == "MAX";
        var now = r.Sim.Clock.UnixNow;

        // PVE 9 drops the still-filling last bucket.
        var last = ((now / step) * step) - (v9 ? step : 0);
        var result = new JsonArray();
        for (var i = rows - 1; i >= 0; i--)
        {
            var t = last - ((long)i * step);
            var point = new JsonObject { ["time"] = t };
            if (t >= since.ToUnixTimeSeconds())
            {
                var bucket = t / step;
                foreach (var (k, v) in values(t, max ? bucket + 7 : bucket, series))
                {
                    point[k] = v?.DeepClone();
                }

                if (v9)
                {
                    version9Extras?.Invoke(point);
                }
            }

            result.Add(point);
        }

        return result;
    }
}
