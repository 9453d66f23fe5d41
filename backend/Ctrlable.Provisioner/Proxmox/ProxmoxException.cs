using System.Net;

namespace Ctrlable.Provisioner.Proxmox;

/// <summary>Proxmox answered with an error. The message is Proxmox's own text; it never contains credentials.</summary>
public sealed class ProxmoxException(HttpStatusCode status, string method, string path, string proxmoxMessage, IReadOnlyDictionary<string, string> errors)
    : Exception(Describe(method, path, proxmoxMessage, errors))
{
    public HttpStatusCode Status { get; } = status;
    public string ProxmoxMessage { get; } = proxmoxMessage;
    public IReadOnlyDictionary<string, string> Errors { get; } = errors;

    /// <summary>
    /// The node a request through <c>/nodes/{node}/…</c> could not reach: pveproxy answers <c>595 No route to host</c> for a
    /// cluster member that is off the network (and, unlike a refusal, nothing was done). Null for any other error.
    /// </summary>
    public string? UnreachableNode { get; } =
        (int)status == 595 && path.Split('/', StringSplitOptions.RemoveEmptyEntries) is ["nodes", var node, ..] ? Uri.UnescapeDataString(node) : null;

    /// <summary>"CT is locked (disk)", "VM is locked (clone)", "can't lock file ... got timeout": nothing happened, a retry is safe.</summary>
    public bool IsLockContention => IsLockMessage(ProxmoxMessage);

    /// <summary>"CT 105 already exists on node 'pve'", "unable to create VM 107: config file already exists", nextid's "VM 105 already exists".</summary>
    public bool IsAlreadyExists =>
        ProxmoxMessage.Contains("already exists", StringComparison.Ordinal) ||
        Errors.Values.Any(v => v.Contains("already exists", StringComparison.Ordinal));

    public bool IsNotFound =>
        Status == HttpStatusCode.NotFound ||
        ProxmoxMessage.Contains("does not exist", StringComparison.Ordinal) ||
        ProxmoxMessage.Contains("no such", StringComparison.OrdinalIgnoreCase);

    public static bool IsLockMessage(string? message) =>
        message is not null &&
        (message.Contains(" is locked (", StringComparison.Ordinal) ||
         (message.Contains("can't lock file", StringComparison.Ordinal) && message.Contains("got timeout", StringComparison.Ordinal)));

    private static string Describe(string method, string path, string message, IReadOnlyDictionary<string, string> errors)
    {
        var text = $"Proxmox refused {method} {path}: {message}";
        return errors.Count == 0 ? text : text + " " + string.Join("; ", errors.Select(e => $"{e.Key}: {e.Value}"));
    }
}

/// <summary>The node presented a certificate other than the pinned one.</summary>
public sealed class ProxmoxCertificateException(string expected, string presented, Exception inner)
    : Exception($"The Proxmox node's certificate does not match the pinned fingerprint. Expected {expected}, but the server presented {presented}. If the node's certificate was renewed, confirm the new fingerprint and save it under Settings > Proxmox host (or in Proxmox:CertificateFingerprint).", inner)
{
    public string Expected { get; } = expected;
    public string Presented { get; } = presented;
}

/// <summary>The Proxmox version is older than the release requires.</summary>
public sealed class ProxmoxVersionException(string found, string required)
    : Exception($"Proxmox VE {found} is older than {required}, the minimum this release supports. Upgrade the host first.");
