namespace Ctrlable.Provisioner.Proxmox;

/// <summary>Refuses a Proxmox older than a release's <c>proxmox_min_version</c>.</summary>
public static class ProxmoxVersions
{
    public static bool IsAtLeast(string version, string minimum) =>
        Parse(version).CompareTo(Parse(minimum)) >= 0;

    public static void EnsureAtLeast(PveVersionInfo found, string minimum)
    {
        if (!IsAtLeast(found.Version, minimum))
        {
            throw new ProxmoxVersionException(found.Version, minimum);
        }
    }

    private static Version Parse(string text)
    {
        var parts = text.Split('.', '-').Take(3).Select(p => int.TryParse(p, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : 0).ToList();
        while (parts.Count < 3)
        {
            parts.Add(0);
        }

        return new Version(parts[0], parts[1], parts[2]);
    }
}
