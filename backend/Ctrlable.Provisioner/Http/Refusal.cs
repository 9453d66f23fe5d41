using Microsoft.AspNetCore.Http.HttpResults;

namespace Ctrlable.Provisioner.Http;

/// <summary>
/// A service's "no" that needs its state to decide (not found, a conflict, Proxmox failed): the status, a title, one
/// sentence for the dealer, and optional field errors and extension members (e.g. a machine-readable <c>code</c>).
/// </summary>
public sealed record Refusal(int Status, string Title, string Detail, IReadOnlyDictionary<string, string[]>? Errors = null, IReadOnlyDictionary<string, object?>? Extensions = null)
{
    /// <summary>The one way a refusal goes on the wire: problem+json with the extensions, and <c>errors</c> when there are field errors.</summary>
    public ProblemHttpResult ToProblem()
    {
        var extensions = new Dictionary<string, object?>(Extensions ?? new Dictionary<string, object?>());
        if (Errors is { } errors)
        {
            extensions["errors"] = FieldPath.Keyed(errors);
        }

        return TypedResults.Problem(title: Title, detail: Detail, statusCode: Status, extensions: extensions.Count == 0 ? null : extensions);
    }
}
