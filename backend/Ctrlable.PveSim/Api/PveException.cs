namespace Ctrlable.PveSim.Api;

/// <summary>
/// An error answered the way pve-http-server does: the status code, the message as HTTP reason phrase
/// (and, from 8.3 on, as body "message"), and per-parameter errors for 400s.
/// </summary>
public sealed class PveException : Exception
{
    public PveException(int status, string message, IReadOnlyDictionary<string, string>? errors = null)
        : base(message)
    {
        Status = status;
        Errors = errors;
    }

    public int Status { get; }

    public IReadOnlyDictionary<string, string>? Errors { get; }

    /// <summary>Perl messages end in a newline (kept in the body "message"); pve-http-server's own 501 text does not.</summary>
    public bool TrailingNewline { get; init; } = true;

    /// <summary>A plain Perl <c>die "text\n"</c> inside an API handler: HTTP 500 with the text.</summary>
    public static PveException Die(string message) => new(500, message);

    public static PveException ParamError(IReadOnlyDictionary<string, string> errors) =>
        new(400, "Parameter verification failed.", errors);

    public static PveException ParamError(string param, string message) =>
        ParamError(new Dictionary<string, string> { [param] = message });

    public static PveException PermissionDenied(string? what = null) =>
        new(403, what is null ? "Permission check failed" : $"Permission check failed ({what})");

    /// <summary>A guest config that does not exist on the node (AbstractConfig::load_config).</summary>
    public static PveException NoConfig(string node, string type, int vmid) =>
        Die($"Configuration file 'nodes/{node}/{(type == "lxc" ? "lxc" : "qemu-server")}/{vmid}.conf' does not exist");
}
