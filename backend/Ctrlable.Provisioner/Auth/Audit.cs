namespace Ctrlable.Provisioner.Auth;

/// <summary>What a handler adds to its audit entry: the actor when the caller is not signed in yet (sign-in, setup) and the target.</summary>
public sealed class AuditNotes
{
    public string? ActorKind { get; set; }
    public string? ActorName { get; set; }
    public string? Target { get; set; }
}

/// <summary>Marks an endpoint whose reads hand out secrets: the audit log records every call to it, GETs included.</summary>
public sealed class AuditReadsMetadata
{
    public static readonly AuditReadsMetadata Instance = new();

    private AuditReadsMetadata()
    {
    }
}

public static class AuditExtensions
{
    /// <summary>
    /// Audits reads of this endpoint (or group) too, not only state-changing calls: for endpoints that hand out secrets
    /// (a guest's first-boot assignment, the build plan and release secret). Who, what, when; never the answer.
    /// </summary>
    public static TBuilder AuditReads<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(AuditReadsMetadata.Instance);

    private static readonly object Key = new();

    /// <summary>The notes of this request's audit entry (created on first use).</summary>
    public static AuditNotes Audit(this HttpContext context)
    {
        if (context.Items[Key] is not AuditNotes notes)
        {
            notes = new AuditNotes();
            context.Items[Key] = notes;
        }

        return notes;
    }
}

/// <summary>
/// Appends one audit entry per state-changing request that reached an endpoint, and per read of an endpoint marked
/// <see cref="AuditReadsMetadata"/>: when, who (user, token or anonymous, with the handler's note of a guest or a build
/// ticket, and the client address), method, route pattern, target (route values and the handler's note) and the status
/// code. Request bodies, query strings and answers are never read: they carry passwords and secrets.
/// </summary>
internal sealed class AuditMiddleware(RequestDelegate next, AuditRepository audit, TimeProvider time)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (context.GetEndpoint() is not RouteEndpoint endpoint
            || !(AccessControl.IsStateChanging(context.Request.Method) || endpoint.Metadata.GetMetadata<AuditReadsMetadata>() is not null))
        {
            await next(context);
            return;
        }

        var completed = false;
        try
        {
            await next(context);
            completed = true;
        }
        finally
        {
            // An exception leaves as a 500 from the exception handler further out.
            await audit.AppendAsync(Entry(context, endpoint, completed ? context.Response.StatusCode : StatusCodes.Status500InternalServerError), CancellationToken.None);
        }
    }

    private AuditEntry Entry(HttpContext context, RouteEndpoint endpoint, int status)
    {
        var notes = context.Audit();
        var actor = Actor.From(context.User);
        var routeValues = string.Join(", ", context.Request.RouteValues
            .Where(v => v.Value is not null)
            .Select(v => $"{v.Key}={v.Value}"));
        var target = string.Join("; ", new[] { routeValues, notes.Target }.Where(t => !string.IsNullOrEmpty(t)));
        return new AuditEntry(
            0,
            time.GetUtcNow(),
            actor?.Kind ?? notes.ActorKind ?? "anonymous",
            actor?.Name ?? notes.ActorName,
            context.Request.Method,
            endpoint.RoutePattern.RawText ?? context.Request.Path.Value ?? "",
            target.Length == 0 ? null : target,
            status,
            context.Connection.RemoteIpAddress?.ToString());
    }
}
