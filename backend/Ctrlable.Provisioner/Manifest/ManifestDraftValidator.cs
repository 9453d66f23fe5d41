using FluentValidation;
using FluentValidation.Results;
using static Ctrlable.Provisioner.Manifest.ManifestRules;

namespace Ctrlable.Provisioner.Manifest;

/// <summary>
/// Semantic checks over a <see cref="ManifestDraft"/>. Every failure carries its YAML path in
/// <see cref="ValidationFailure.CustomState"/> (via <see cref="ValidationPaths.At{T, TProperty}(IRuleBuilderOptions{T, TProperty}, string)"/>
/// or <see cref="ValidationPaths.Report{T}"/>), which the parser turns back into a line and column.
/// Null fields were already reported by the reader, so every rule lets null pass.
/// </summary>
internal sealed class ManifestDraftValidator : AbstractValidator<ManifestDraft>
{
    public ManifestDraftValidator()
    {
        RuleFor(m => m.Release)
            .Must(release => release is null || IsReleaseName(release))
            .WithMessage(m => $"release '{m.Release}' must be YYYY.MM or YYYY.MM.N with month 01-12, e.g. 2026.06")
            .At("release");

        RuleFor(m => m.CommunityScriptsRef)
            .Custom((reference, context) =>
                context.Report("community_scripts_ref", reference is null ? null : RefProblem(reference)));

        RuleFor(m => m.CommunityScriptsCommit)
            .Must(commit => commit is null || IsCommitSha(commit))
            .WithMessage(m => $"community_scripts_commit '{m.CommunityScriptsCommit}' must be a full 40-character lowercase hex commit SHA")
            .At("community_scripts_commit");

        // A ref that is itself a SHA leaves nothing for the commit to add, except a contradiction.
        RuleFor(m => m.CommunityScriptsCommit)
            .Must((m, commit) => commit is null || m.CommunityScriptsRef is null || !IsCommitSha(m.CommunityScriptsRef)
                || !IsCommitSha(commit) || commit == m.CommunityScriptsRef)
            .WithMessage(m => $"community_scripts_commit '{m.CommunityScriptsCommit}' differs from community_scripts_ref '{m.CommunityScriptsRef}', which is itself a commit")
            .At("community_scripts_commit");

        RuleFor(m => m.ProxmoxMinVersion)
            .Custom((version, context) =>
                context.Report("proxmox_min_version", version is null ? null : ProxmoxVersionProblem(version)));

        RuleForEach(m => m.Templates).SetValidator(new TemplateDraftValidator());

        RuleFor(m => m.Templates).Custom((templates, context) => CheckDuplicateVmids(templates, context));
        RuleFor(m => m.Templates).Custom((_, context) => CheckDecisions(context));
    }

    private static void CheckDuplicateVmids(IReadOnlyList<TemplateDraft> templates, ValidationContext<ManifestDraft> context)
    {
        var owners = new Dictionary<int, string>();
        foreach (var template in templates)
        {
            if (template.Vmid is not { } vmid)
            {
                continue;
            }

            if (!owners.TryAdd(vmid, template.Name))
            {
                context.Report(template.Path + ".vmid", $"vmid {vmid} is already used by template '{owners[vmid]}'");
            }
        }
    }

    private static void CheckDecisions(ValidationContext<ManifestDraft> context)
    {
        var manifest = context.InstanceToValidate;
        var byName = manifest.Templates.ToDictionary(t => t.Name, StringComparer.Ordinal);

        if (manifest.FreePbxKind is { } pbxKind
            && byName.TryGetValue(FreePbxTemplate, out var freePbx)
            && freePbx.Kind is { } actualKind
            && (pbxKind == FreePbxKind.Vm) != (actualKind == TemplateKind.Vm))
        {
            context.Report(freePbx.Path + ".kind",
                $"template '{FreePbxTemplate}' has kind {YamlName(actualKind)} but decisions.freepbx_kind is {YamlName(pbxKind)}; make them agree");
        }

        if (manifest.FrigatePlacement == FrigatePlacement.Docker)
        {
            if (byName.TryGetValue(FrigateTemplate, out var frigate))
            {
                context.Report(frigate.Path,
                    $"decisions.frigate_placement is docker, so Frigate runs inside {DockerPortainerTemplate} and no '{FrigateTemplate}' template may be defined; remove it or choose separate");
            }

            if (!byName.ContainsKey(DockerPortainerTemplate))
            {
                context.Report("decisions.frigate_placement",
                    $"frigate_placement 'docker' runs Frigate inside {DockerPortainerTemplate}, but there is no '{DockerPortainerTemplate}' template");
            }
        }
    }
}

internal sealed class TemplateDraftValidator : AbstractValidator<TemplateDraft>
{
    public TemplateDraftValidator()
    {
        RuleFor(t => t.Name)
            .Must(IsTemplateName)
            .WithMessage(t => $"template name '{t.Name}' must be a DNS label (lowercase a-z, 0-9 and '-', not at either end, at most {MaxTemplateNameLength} characters) because hostnames derive from it")
            .At(t => t.Path);

        RuleFor(t => t.Builder)
            .Custom((builder, context) => context.Report(
                context.InstanceToValidate.Path + ".builder",
                builder is null ? null : BuilderProblem(builder, context.InstanceToValidate.Kind)));

        RuleFor(t => t.Vmid)
            .InclusiveBetween(MinVmid, MaxVmid)
            .WithMessage(t => $"vmid {t.Vmid} is outside {MinVmid}..{MaxVmid}, the range Proxmox accepts")
            .At(t => t.Path + ".vmid");

        RuleFor(t => t.Cpu)
            .InclusiveBetween(MinCpu, MaxCpu)
            .WithMessage(t => $"cpu {t.Cpu} is outside {MinCpu}..{MaxCpu}")
            .At(t => t.Path + ".resources.cpu");

        RuleFor(t => t.RamMiB)
            .InclusiveBetween(MinRamMiB, MaxRamMiB)
            .WithMessage(t => $"ram {t.RamMiB} MiB is outside {MinRamMiB}..{MaxRamMiB} MiB")
            .At(t => t.Path + ".resources.ram");

        RuleFor(t => t.DiskGb)
            .InclusiveBetween(MinDiskGb, MaxDiskGb)
            .WithMessage(t => $"disk {t.DiskGb} GB is outside {MinDiskGb}..{MaxDiskGb} GB")
            .At(t => t.Path + ".resources.disk");

        RuleFor(t => t.DiskGb)
            .GreaterThanOrEqualTo(MinHaosDiskGb)
            .When(t => t.Builder == HaosBuilder && t.DiskGb >= MinDiskGb)
            .WithMessage(t => $"disk {t.DiskGb} GB is smaller than the Home Assistant OS image ({MinHaosDiskGb} GB): the build can grow it, not shrink it")
            .At(t => t.Path + ".resources.disk");

        // haos-vm.sh always fetches the newest stable HAOS; the version is the pin.
        RuleFor(t => t.HaosVersion)
            .NotEmpty()
            .When(t => t.Kind == TemplateKind.Vm && t.Builder == HaosBuilder)
            .WithMessage(t => $"template '{t.Name}' is built by {HaosBuilder} and needs haos_version (the Home Assistant OS release to pin, e.g. \"15.1\")")
            .At(t => t.Path + ".haos_version");

        // The build verifies the downloaded image against it (lower-case hex, as sha256sum prints it).
        RuleFor(t => t.HaosSha256)
            .Matches("^[0-9a-f]{64}$")
            .When(t => t.HaosSha256 is not null)
            .WithMessage(t => $"haos_sha256 '{t.HaosSha256}' is not a SHA-256 (64 lower-case hex digits, as sha256sum prints it)")
            .At(t => t.Path + ".haos_sha256");
        RuleFor(t => t.HaosSha256)
            .Null()
            .When(t => t.Builder != HaosBuilder)
            .WithMessage(t => $"haos_sha256 only applies to templates built by {HaosBuilder}")
            .At(t => t.Path + ".haos_sha256");

        // The Home Assistant base backup travels with the release: a file name under the release, and its checksum.
        RuleFor(t => t.BaseBackup)
            .Matches("^[A-Za-z0-9][A-Za-z0-9._-]*$")
            .When(t => t.BaseBackup is not null)
            .WithMessage(t => $"base_backup '{t.BaseBackup}' is not a plain file name (letters, digits, '.', '_', '-')")
            .At(t => t.Path + ".base_backup");
        RuleFor(t => t.BaseBackup)
            .Null()
            .When(t => t.Builder != HaosBuilder)
            .WithMessage(t => $"base_backup only applies to templates built by {HaosBuilder}")
            .At(t => t.Path + ".base_backup");
        RuleFor(t => t.BaseBackupSha256)
            .Matches("^[0-9a-f]{64}$")
            .When(t => t.BaseBackupSha256 is not null)
            .WithMessage(t => $"base_backup_sha256 '{t.BaseBackupSha256}' is not a SHA-256 (64 lower-case hex digits, as sha256sum prints it)")
            .At(t => t.Path + ".base_backup_sha256");
        RuleFor(t => t.BaseBackupSha256)
            .Null()
            .When(t => t.BaseBackup is null)
            .WithMessage("base_backup_sha256 needs base_backup (the file it is the checksum of)")
            .At(t => t.Path + ".base_backup_sha256");
    }
}

/// <summary>Attaches the YAML path to FluentValidation failures.</summary>
internal static class ValidationPaths
{
    public static IRuleBuilderOptions<T, TProperty> At<T, TProperty>(this IRuleBuilderOptions<T, TProperty> rule, string path) =>
        rule.WithState(_ => path);

    public static IRuleBuilderOptions<T, TProperty> At<T, TProperty>(this IRuleBuilderOptions<T, TProperty> rule, Func<T, string> path) =>
        rule.WithState(instance => path(instance));

    /// <summary>Adds a failure at <paramref name="path"/> when <paramref name="problem"/> is not null.</summary>
    public static void Report<T>(this ValidationContext<T> context, string path, string? problem)
    {
        if (problem is not null)
        {
            context.AddFailure(new ValidationFailure(context.PropertyPath, problem) { CustomState = path });
        }
    }
}
