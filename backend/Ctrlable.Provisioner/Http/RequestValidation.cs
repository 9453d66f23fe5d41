using FluentValidation;
using FluentValidation.Results;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Ctrlable.Provisioner.Http;

/// <summary>
/// The one way a request's field errors go on the wire: 400 <c>ValidationProblem</c>, every error at once, keyed by
/// the field's JSON path (<see cref="FieldPath"/>). <c>WithValidation&lt;T&gt;()</c> runs a body's validator before the handler; a handler whose answer
/// must first depend on who asks or what exists (a set-up code, a user that is not there) runs it itself at that point.
/// </summary>
public static class RequestValidation
{
    /// <summary>
    /// Runs <paramref name="validator"/>; null when <paramref name="request"/> is valid. <paramref name="data"/> is what
    /// rules need beyond the body (e.g. whose a new password is), as the validation's root data.
    /// </summary>
    public static async Task<ValidationProblem?> RefuseAsync<T>(
        this IValidator<T> validator, T request, CancellationToken ct, string? title = null, IReadOnlyDictionary<string, object>? data = null)
    {
        var context = new ValidationContext<T>(request);
        foreach (var (key, value) in data ?? new Dictionary<string, object>())
        {
            context.RootContextData[key] = value;
        }

        var result = await validator.ValidateAsync(context, ct);
        return result.IsValid ? null : result.ToProblem(title);
    }

    /// <summary>The field errors of one or more validations (e.g. a body and the headers that came with it) as one answer.</summary>
    public static ValidationProblem ToProblem(this ValidationResult result, string? title = null) =>
        TypedResults.ValidationProblem(FieldPath.Keyed(result.ToDictionary()), title: title);

    /// <summary>Several validations' failures as one result.</summary>
    public static ValidationResult Merge(params ValidationResult[] results) => new(results.SelectMany(r => r.Errors));
}
