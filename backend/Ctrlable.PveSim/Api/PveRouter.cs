using System.Text.Json.Nodes;

namespace Ctrlable.PveSim.Api;

internal delegate JsonNode? PveHandler(PveRequest request);

/// <summary>The emulated endpoints, keyed by method and schema path template.</summary>
internal sealed class PveRouter
{
    private readonly Dictionary<(string Method, string Path), PveHandler> _handlers = [];

    public IEnumerable<(string Method, string Path)> Routes => _handlers.Keys;

    public PveRouter Map(string method, string path, PveHandler handler)
    {
        _handlers[(method, path)] = handler;
        return this;
    }

    public PveHandler? Find(string method, string path) => _handlers.GetValueOrDefault((method, path));

    public static PveRouter CreateDefault()
    {
        var router = new PveRouter();
        ClusterApi.Map(router);
        NodeApi.Map(router);
        GuestReadApi.Map(router);
        GuestConfigApi.Map(router);
        CloneApi.Map(router);
        MigrateApi.Map(router);
        PowerApi.Map(router);
        DestroyApi.Map(router);
        SnapshotApi.Map(router);
        TaskApi.Map(router);
        PoolApi.Map(router);
        AccessApi.Map(router);
        ExtrasApi.Map(router);
        CreateApi.Map(router);
        TemplateStoreApi.Map(router);
        BackupApi.Map(router);
        return router;
    }
}
