namespace Ctrlable.PveSim;

/// <summary>The Proxmox VE release the emulator behaves like. Schema, privileges and wire details follow it.</summary>
public enum PveVersion
{
    V8_2,
    V9_1,
}

public static class PveVersionInfo
{
    public static string SchemaResource(this PveVersion version) => version switch
    {
        PveVersion.V8_2 => "apidata-8.2.json",
        PveVersion.V9_1 => "apidata-9.1.json",
        _ => throw new ArgumentOutOfRangeException(nameof(version)),
    };

    /// <summary>pve-manager package version as GET /version reports it.</summary>
    public static string ManagerVersion(this PveVersion version) => version switch
    {
        PveVersion.V8_2 => "8.2.4",
        PveVersion.V9_1 => "9.1.3",
        _ => throw new ArgumentOutOfRangeException(nameof(version)),
    };

    public static string Release(this PveVersion version) => version switch
    {
        PveVersion.V8_2 => "8.2",
        PveVersion.V9_1 => "9.1",
        _ => throw new ArgumentOutOfRangeException(nameof(version)),
    };

    public static string RepoId(this PveVersion version) => version switch
    {
        PveVersion.V8_2 => "faa83925c9641325",
        PveVersion.V9_1 => "2a6d5ab8c1e0f913",
        _ => throw new ArgumentOutOfRangeException(nameof(version)),
    };

    public static string KernelRelease(this PveVersion version) => version switch
    {
        PveVersion.V8_2 => "6.8.8-2-pve",
        PveVersion.V9_1 => "6.17.2-1-pve",
        _ => throw new ArgumentOutOfRangeException(nameof(version)),
    };

    /// <summary>
    /// libpve-http-server 5.2.0 (PVE 8.3 updates, all of 9.x) added a "message" member to error bodies;
    /// before that the message travelled only in the HTTP reason phrase.
    /// </summary>
    public static bool ErrorMessageInBody(this PveVersion version) => version != PveVersion.V8_2;

    public static PveVersion Parse(string text) => text.Trim() switch
    {
        "8" or "8.2" or "V8_2" => PveVersion.V8_2,
        "9" or "9.1" or "V9_1" => PveVersion.V9_1,
        _ => throw new ArgumentException($"unsupported Proxmox VE version '{text}' (8.2 or 9.1)", nameof(text)),
    };
}
