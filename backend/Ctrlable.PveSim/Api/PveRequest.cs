using System.Globalization;
using Ctrlable.PveSim.Hosting;
using Ctrlable.PveSim.Schema;

namespace Ctrlable.PveSim.Api;

/// <summary>An authenticated, permission-checked and validated API call, as a handler receives it.</summary>
internal sealed class PveRequest(SimContext sim, SchemaEndpoint endpoint, string authId, string localNode, IReadOnlyDictionary<string, string> parameters)
{
    public SimContext Sim { get; } = sim;

    public SchemaEndpoint Endpoint { get; } = endpoint;

    /// <summary>The acting user or token id (<c>user@realm!token</c>), as task UPIDs carry it.</summary>
    public string AuthId { get; } = authId;

    /// <summary>The node whose API the client talks to.</summary>
    public string LocalNode { get; } = localNode;

    public IReadOnlyDictionary<string, string> Params { get; } = parameters;

    /// <summary>Set by list handlers that report a "total" next to "data" (task log).</summary>
    public int? Total { get; set; }

    public string Node => Get("node") ?? throw new InvalidOperationException("no node");

    public int Vmid => Int("vmid") ?? throw new InvalidOperationException("no vmid");

    public string? Get(string name) => Note(name).GetValueOrDefault(name);

    public bool Has(string name) => Note(name).ContainsKey(name);

    public int? Int(string name) => Note(name).TryGetValue(name, out var v) ? int.Parse(v, NumberStyles.Integer, CultureInfo.InvariantCulture) : null;

    /// <summary>A boolean parameter (validated to 0/1 already); null when not given.</summary>
    public bool? Flag(string name) => Note(name).TryGetValue(name, out var v) ? v == "1" : null;

    /// <summary>A flag that only some of the endpoints sharing a handler define (skiplock, force).</summary>
    public bool OptionalFlag(string name) => Endpoint.FindProperty(name) is not null && Flag(name) == true;

    // Records which parameters each handler reads, so a test can check them against both schemas.
    private IReadOnlyDictionary<string, string> Note(string name)
    {
        Sim.ParameterReads.GetOrAdd($"{Endpoint.Method} {Endpoint.Path}", _ => new()).TryAdd(name, 0);
        return Params;
    }
}
