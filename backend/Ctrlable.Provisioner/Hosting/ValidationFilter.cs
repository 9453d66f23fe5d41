using FluentValidation;

namespace Ctrlable.Provisioner.Hosting;

public static class ValidationFilter
{
    /// <summary>
    /// Validates the endpoint's <typeparamref name="T"/> argument with its FluentValidation validator before the
    /// handler runs; every field error comes back at once as a ValidationProblem (400, problem+json).
    /// </summary>
    public static RouteHandlerBuilder WithValidation<T>(this RouteHandlerBuilder builder)
    {
        builder.ProducesValidationProblem();
        return builder.AddEndpointFilter(async (context, next) =>
        {
            var argument = context.Arguments.OfType<T>().FirstOrDefault();
            if (argument is null)
            {
                return TypedResults.Problem(title: "Missing request body", statusCode: StatusCodes.Status400BadRequest);
            }

            var validator = context.HttpContext.RequestServices.GetRequiredService<IValidator<T>>();
            var result = await validator.ValidateAsync(argument, context.HttpContext.RequestAborted);
            return result.IsValid ? await next(context) : TypedResults.ValidationProblem(result.ToDictionary());
        });
    }
}
