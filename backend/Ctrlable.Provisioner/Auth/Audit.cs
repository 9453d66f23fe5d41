namespace Ctrlable.Provisioner.Auth;

/// <summary>What a handler adds to its audit entry: the actor when the caller is not signed in yet (sign-in, setup) and the target.</summary>
public sealed class AuditNotes
{
    public string? ActorKind { get; set; }
    public string? ActorName { get; set; }
    public string? Target { get; set; }
}

public static class AuditExtensions
{
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
/// Appends one audit entry per state-changing request that reached an endpoint: when, who (user, token or
/// anonymous), method, route pattern, target (route values and the handler's note) and the status code.
/// Request bodies are never read: they carry passwords and secrets.
/// </summary>
internal sealed class AuditMiddleware(RequestDelegate next, AuditRepository audit, TimeProvider time)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (!AccessControl.IsStateChanging(context.Request.Method) || context.GetEndpoint() is not RouteEndpoint endpoint)
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
