using Ctrlable.Provisioner.Manifest;
using FluentValidation;

namespace Ctrlable.Provisioner.Build;

/// <summary>The template names a build or check request may carry: template names (the manifest's grammar), once each.</summary>
internal static class TemplateNamesRule
{
    // More than a release ever has; keeps a request from naming thousands.
    public const int MaxTemplates = 64;

    public static void Apply<T>(AbstractValidator<T> validator, Func<T, IReadOnlyList<string>?> templates)
    {
        validator.RuleFor(r => templates(r))
            .Must(t => t is null || t.Count > 0).WithMessage("Name at least one template, or leave 'templates' out to build every template of the release.")
            .Must(t => t is null || t.Count <= MaxTemplates).WithMessage($"At most {MaxTemplates} templates.")
            .Must(t => t is null || t.Distinct(StringComparer.Ordinal).Count() == t.Count).WithMessage("Each template is named once.")
            .OverridePropertyName("templates");
        validator.RuleForEach(r => templates(r))
            .Must(name => name is not null && ShellSafeGrammar.Name.IsMatch(name))
            .WithMessage("'{PropertyValue}' is not a template name (a-z, 0-9 and '-').")
            .OverridePropertyName("templates");
    }
}

public sealed class StartBuildRequestValidator : AbstractValidator<StartBuildRequest>
{
    public StartBuildRequestValidator() => TemplateNamesRule.Apply(this, r => r.Templates);
}

public sealed class CheckBuildRequestValidator : AbstractValidator<CheckBuildRequest>
{
    public CheckBuildRequestValidator() => TemplateNamesRule.Apply(this, r => r.Templates);
}
