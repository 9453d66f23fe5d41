using System.Text.Json.Nodes;
using Ctrlable.Provisioner.Auth;
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

    public static IHostApplicationBuilder AddApiDocumentation(this IHostApplicationBuilder builder)
    {
        builder.Services.AddEndpointsApiExplorer();
        builder.Services.AddSwaggerGen(options =>
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
        });
        return builder;
    }

    public static WebApplication UseApiDocumentation(this WebApplication app)
    {
        app.UseSwagger();
        app.UseSwaggerUI(o => o.SwaggerEndpoint($"/swagger/{DocumentName}/swagger.json", "Ctrlable Provisioner API"));
        return app;
    }

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
