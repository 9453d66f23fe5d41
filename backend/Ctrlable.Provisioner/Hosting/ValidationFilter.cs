using Ctrlable.Provisioner.Http;
using FluentValidation;

namespace Ctrlable.Provisioner.Hosting;

public static class ValidationFilter
{
    /// <summary>
    /// Validates the endpoint's <typeparamref name="T"/> body with its FluentValidation validator before the handler
    /// runs; every field error comes back at once as a ValidationProblem (400, problem+json, <c>errors</c> keyed by
    /// the field's JSON path, <see cref="FieldPath"/>). An optional body (<c>T?</c>) that is absent is not validated: the handler takes the defaults. A
    /// required body that is absent never gets here (the framework answers 400).
    /// </summary>
    public static RouteHandlerBuilder WithValidation<T>(this RouteHandlerBuilder builder)
    {
        builder.ProducesValidationProblem();
        return builder.AddEndpointFilter(async (context, next) =>
        {
            if (context.Arguments.OfType<T>().FirstOrDefault() is not { } argument)
            {
                return await next(context);
            }

            var validator = context.HttpContext.RequestServices.GetRequiredService<IValidator<T>>();
            var result = await validator.ValidateAsync(argument, context.HttpContext.RequestAborted);
            return result.IsValid ? await next(context) : result.ToProblem();
        });
    }
}
