using System.Text.Json.Nodes;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.State;
using Microsoft.AspNetCore.Authorization;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace Ctrlable.Provisioner.Hosting;

/// <summary>
/// Documents an endpoint that reads its multipart/form-data body itself (streamed, not bound) as taking
/// <see cref="Form"/>'s fields. Unlike <c>Accepts</c> it does not take part in routing, so another content type reaches
/// the endpoint and gets its own answer (415) instead of the API's 404.
/// </summary>
public sealed record MultipartFormBody(Type Form);

public static class ApiDocumentation
{
    public const string DocumentName = "v1";
    public const string CookieScheme = "sessionCookie";
    public const string BearerScheme = "apiToken";

    /// <summary>
    /// Documents the API at <c>/swagger</c>. The generator (Swashbuckle, Microsoft.OpenApi, MVC's ApiExplorer) is set up
    /// on the first <c>/swagger</c> request, not at start: a dealer's orchestrator rarely serves it, and registering it
    /// loads those assemblies for the process's lifetime (memory, backend/bench/README.md "Memory").
    /// </summary>
    public static IHostApplicationBuilder AddApiDocumentation(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton(new ApplicationServiceList(builder.Services));
        return builder;
    }

    /// <summary>
    /// Serves <c>/swagger</c> (the document and the UI) through a pipeline built on its first request, with its own
    /// service provider: the app's registrations (read after every feature and the demo added theirs, so the generator
    /// tells injected services from bound parameters as before) plus the generator's, over the app's endpoints.
    /// </summary>
    public static WebApplication UseApiDocumentation(this WebApplication app)
    {
        var swagger = new Lazy<(IServiceProvider Services, RequestDelegate Pipeline)>(() => BuildSwaggerPipeline(app));
        app.Use(async (context, next) =>
        {
            if (!context.Request.Path.StartsWithSegments("/swagger"))
            {
                await next(context);
                return;
            }

            var (services, pipeline) = swagger.Value;
            var appServices = context.RequestServices;
            await using var scope = services.CreateAsyncScope();
            context.RequestServices = scope.ServiceProvider;
            context.Items[SwaggerNext] = (RequestDelegate)(c =>
            {
                // Anything else under /swagger goes on through the app's pipeline, with the app's services, as before.
                c.RequestServices = appServices;
                return next(c);
            });
            try
            {
                await pipeline(context);
            }
            finally
            {
                context.RequestServices = appServices;
            }
        });
        return app;
    }

    private static readonly object SwaggerNext = new();

    private static (IServiceProvider, RequestDelegate) BuildSwaggerPipeline(WebApplication app)
    {
        IServiceCollection services = new ServiceCollection();
        foreach (var descriptor in app.Services.GetRequiredService<ApplicationServiceList>().Services)
        {
            services.Add(descriptor);
        }

        // The app's endpoints, as routed (not a second, empty routing world).
        services.AddSingleton(app.Services.GetRequiredService<EndpointDataSource>());
        services.Configure<Microsoft.AspNetCore.Mvc.JsonOptions>(o => JsonDefaults.Configure(o.JsonSerializerOptions));
        services.AddEndpointsApiExplorer();
        services.AddSwaggerGen(ConfigureGenerator);
        var provider = services.BuildServiceProvider();

        var branch = new ApplicationBuilder(provider);
        branch.UseSwagger();
        branch.UseSwaggerUI(o => o.SwaggerEndpoint($"/swagger/{DocumentName}/swagger.json", "Ctrlable Provisioner API"));
        branch.Run(context => ((RequestDelegate)context.Items[SwaggerNext]!)(context));
        return (provider, branch.Build());
    }

    private static void ConfigureGenerator(SwaggerGenOptions options)
    {
        options.SwaggerDoc(DocumentName, new OpenApiInfo
        {
            Title = "Ctrlable Provisioner API",
            Version = DocumentName,
            Description = "Deploy and run Ctrlable appliance stacks on Proxmox VE. The SPA uses exactly this API. " +
                "Integrators authenticate with an API token (Authorization: Bearer ctp_...) issued by an admin; " +
                "each operation names the role it needs (viewer ⊂ operator ⊂ admin) in x-required-role.",
        });
        options.AddSecurityDefinition(BearerScheme, new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            BearerFormat = "ctp_ token",
            Description = "An integrator API token, issued by an admin under API tokens (Authorization: Bearer ctp_...).",
        });
        options.AddSecurityDefinition(CookieScheme, new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Cookie,
            Name = AccessControl.SessionCookie,
            Description = $"The SPA's session after POST /api/auth/sign-in. POST, PUT and DELETE also need the {AccessControl.AntiforgeryHeader} header from GET /api/auth/antiforgery.",
        });
        options.OperationFilter<AccessOperationFilter>();
        options.OperationFilter<MultipartFormBodyFilter>();
        // Without these every generated TypeScript property comes out optional and nullable.
        options.SupportNonNullableReferenceTypes();
        options.NonNullableReferenceTypesAsRequired();
        options.UseAllOfToExtendReferenceSchemas();
    }

    /// <summary>The app's service registrations, kept for the documentation's own provider.</summary>
    private sealed record ApplicationServiceList(IServiceCollection Services);

    /// <summary>The request body of an endpoint marked with <see cref="MultipartFormBody"/>.</summary>
    private sealed class MultipartFormBodyFilter : IOperationFilter
    {
        public void Apply(OpenApiOperation operation, OperationFilterContext context)
        {
            if (context.ApiDescription.ActionDescriptor.EndpointMetadata.OfType<MultipartFormBody>().FirstOrDefault() is not { } form)
            {
                return;
            }

            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Content = new Dictionary<string, OpenApiMediaType>
                {
                    ["multipart/form-data"] = new() { Schema = context.SchemaGenerator.GenerateSchema(form.Form, context.SchemaRepository) },
                },
            };
        }
    }

    /// <summary>
    /// Per operation: the security requirement (cookie or Bearer), the role from <see cref="RequiredRoleMetadata"/>
    /// as <c>x-required-role</c> and in the description, and the 401/403 answers. Anonymous operations say so.
    /// </summary>
    private sealed class AccessOperationFilter : IOperationFilter
    {
        public void Apply(OpenApiOperation operation, OperationFilterContext context)
        {
            var metadata = context.ApiDescription.ActionDescriptor.EndpointMetadata;
            operation.Extensions ??= new Dictionary<string, IOpenApiExtension>();
            if (metadata.OfType<IAllowAnonymous>().Any())
            {
                operation.Extensions["x-required-role"] = new JsonNodeExtension(JsonValue.Create("anonymous"));
                operation.Description = Append(operation.Description, "No credentials needed.");
                return;
            }

            var role = metadata.OfType<RequiredRoleMetadata>().Select(r => r.Role).DefaultIfEmpty(Role.Viewer).Max();
            operation.Extensions["x-required-role"] = new JsonNodeExtension(JsonValue.Create(role.Name()));
            operation.Description = Append(operation.Description, $"Requires role {role.Name()} (or higher).");
            operation.Security =
            [
                new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, context.Document)] = [] },
                new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(CookieScheme, context.Document)] = [] },
            ];
            operation.Responses ??= [];
            operation.Responses.TryAdd("401", new OpenApiResponse { Description = "Not signed in, or the API token is unknown, revoked or expired." });
            operation.Responses.TryAdd("403", new OpenApiResponse { Description = $"Signed in, but the role is below {role.Name()}." });
        }

        private static string Append(string? description, string sentence) =>
            string.IsNullOrEmpty(description) ? sentence : $"{description} {sentence}";
    }
}
