using Ctrlable.Provisioner.State;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Data.Sqlite;

namespace Ctrlable.Provisioner.Hosting;

public sealed record HealthReport(string Status, string Database);

public static class HealthApi
{
    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/healthz", async Task<Results<Ok<HealthReport>, JsonHttpResult<HealthReport>>> (Database database, ILoggerFactory loggers, CancellationToken ct) =>
            {
                try
                {
                    await using var connection = await database.OpenAsync(ct);
                    await connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT count(*) FROM releases;", cancellationToken: ct));
                    return TypedResults.Ok(new HealthReport("ok", "ok"));
                }
                catch (SqliteException ex)
                {
                    loggers.CreateLogger("Health").LogError(ex, "Health check: database unavailable");
                    return TypedResults.Json(new HealthReport("unhealthy", "unavailable"), statusCode: StatusCodes.Status503ServiceUnavailable);
                }
            })
            .AllowAnonymous()
            .WithTags("Health")
            .WithName("Health")
            .WithSummary("Liveness of the process and its database.")
            .Produces<HealthReport>(StatusCodes.Status503ServiceUnavailable);
        return routes;
    }
}
