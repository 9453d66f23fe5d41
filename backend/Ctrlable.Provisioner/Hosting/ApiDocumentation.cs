using Microsoft.OpenApi;

namespace Ctrlable.Provisioner.Hosting;

public static class ApiDocumentation
{
    public const string DocumentName = "v1";

    public static IHostApplicationBuilder AddApiDocumentation(this IHostApplicationBuilder builder)
    {
        builder.Services.AddEndpointsApiExplorer();
        builder.Services.AddSwaggerGen(options =>
        {
            options.SwaggerDoc(DocumentName, new OpenApiInfo
            {
                Title = "Ctrlable Provisioner API",
                Version = DocumentName,
                Description = "Deploy and run Ctrlable appliance stacks on Proxmox VE. The SPA uses exactly this API.",
            });
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
}
