using System.Globalization;
using Ctrlable.Provisioner.Observability;

namespace Ctrlable.Provisioner.Proxmox;

/// <summary>
/// Counts and times every Proxmox API request (each attempt: it sits inside the retry pipeline) by method, route
/// template and status. The template replaces the node, VMID and UPID segments, so no id reaches a label.
/// </summary>
public sealed class ProxmoxRequestMetrics(ProvisionerMetrics metrics, TimeProvider time) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var status = "error";
        try
        {
            var response = await base.SendAsync(request, cancellationToken);
            status = ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
            return response;
        }
        finally
        {
            metrics.ProxmoxRequest(request.Method.Method, RouteTemplate(request.RequestUri), status, time.GetElapsedTime(started));
        }
    }

    /// <summary>
    /// <c>/api2/json/nodes/pve1/qemu/105/status/start</c> → <c>/nodes/{node}/qemu/{vmid}/status/start</c>. A segment that
    /// is not one of the API's own words (a storage or pool name, a number) becomes <c>{id}</c>; the query is dropped.
    /// </summary>
    public static string RouteTemplate(Uri? uri)
    {
        if (uri is null)
        {
            return "unknown";
        }

        var path = uri.IsAbsoluteUri ? uri.AbsolutePath : uri.OriginalString.Split('?')[0];
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries).ToList();
        var api = segments.IndexOf("json");
        if (api >= 0)
        {
            segments.RemoveRange(0, api + 1);
        }

        var template = new List<string>(segments.Count);
        for (var i = 0; i < segments.Count; i++)
        {
            var previous = i > 0 ? segments[i - 1] : null;
            template.Add(previous switch
            {
                "nodes" => "{node}",
                "qemu" or "lxc" => "{vmid}",
                "tasks" => "{upid}",
                _ => ApiWords.Contains(segments[i]) ? segments[i] : "{id}",
            });
        }

        return "/" + string.Join('/', template);
    }

    // Every literal segment of the paths ProxmoxClient calls; anything else is a value.
    private static readonly HashSet<string> ApiWords = new(StringComparer.Ordinal)
    {
        "version", "access", "permissions", "nodes", "status", "cluster", "resources", "nextid", "storage", "rrddata", "qemu", "lxc",
        "current", "config", "interfaces", "agent", "network-get-interfaces", "tasks", "log", "clone", "start", "stop", "shutdown",
        "reboot", "template",
    };
}
