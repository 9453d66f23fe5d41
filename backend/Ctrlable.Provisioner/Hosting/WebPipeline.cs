namespace Ctrlable.Provisioner.Hosting;

public static class WebPipeline
{
    /// <summary>Every error leaves as problem+json; no stack trace reaches a client.</summary>
    public static WebApplication UseApiErrors(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        return app;
    }

    /// <summary>The built SPA (wwwroot) with index.html as the fallback for client-side routes.</summary>
    public static WebApplication UseSpa(this WebApplication app)
    {
        app.UseDefaultFiles();
        app.UseStaticFiles();
        return app;
    }

    /// <summary>The SPA's files hold no data, so they and the "no such API" answer need no credentials.</summary>
    public static WebApplication MapSpaFallback(this WebApplication app)
    {
        // Unknown API paths are real 404s, not the SPA's index.html.
        app.Map("/api/{**rest}", () => TypedResults.Problem(title: "Not found", detail: "No such API endpoint.", statusCode: StatusCodes.Status404NotFound))
            .AllowAnonymous()
            .DisableAntiforgery()
            .ExcludeFromDescription();
        app.MapFallbackToFile("index.html").AllowAnonymous();
        return app;
    }
}
