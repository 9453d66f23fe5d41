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
            .WithMessage(m => $"community_scripts_commit {Quote(m.CommunityScriptsCommit!)} must be a full 40-character lowercase hex commit SHA")
            .At("community_scripts_commit");

        // The host fetches the tag and refuses to build unless it resolves to this commit: a tag alone could move. A tag
        // without it is a release still being written (the handoff spec's form): valid, but not buildable until pinned.
        // Reported at the ref (a missing key has no line of its own); a ref that is not a tag already has its error.
        RuleFor(m => m.CommunityScriptsCommit)
            .NotNull()
            .When(m => m.CommunityScriptsRef is { } reference && RefProblem(reference) is null)
            .WithSeverity(Severity.Warning)
            .WithMessage(m => $"tag '{m.CommunityScriptsRef}' is not pinned to a commit: run scripts/pin-release.sh releases/{m.Release ?? "<release>"}.yaml "
                + "(it records the commit the tag points to as community_scripts_commit); a build is refused until it is")
            .At("community_scripts_commit", locatedAt: "community_scripts_ref");

        RuleFor(m => m.ProxmoxMinVersion)
            .Custom((version, context) =>
                context.Report("proxmox_min_version", version is null ? null : ProxmoxVersionProblem(version)));

        RuleForEach(m => m.Templates).SetValidator(new TemplateDraftValidator());

        RuleFor(m => m.Templates).Custom((templates, context) => CheckDuplicateVmids(templates, context));
        RuleFor(m => m.Templates).Custom((_, context) => CheckDecisions(context));
        RuleFor(m => m.Templates).Custom((_, context) => CheckAppVersions(context));
    }

    /// <summary>
    /// Holds app_version to what the builder at the pinned commit does (Manifest/upstream-builders.tsv). An unpinned tag
    /// may point anywhere, so its versions are checked once it is pinned (pin-release.sh checks them as it pins).
    /// </summary>
    private static void CheckAppVersions(ValidationContext<ManifestDraft> context)
    {
        var manifest = context.InstanceToValidate;
        if (manifest.CommunityScriptsCommit is not { } commit || !IsCommitSha(commit))
        {
            return;
        }

        var versioned = manifest.Templates.Where(t => t.AppVersion is not null && t.Builder is not null).ToList();
        if (!UpstreamBuilders.Knows(commit))
        {
            if (versioned.Count > 0)
            {
                context.ReportWarning("community_scripts_commit",
                    $"app_version of {string.Join(", ", versioned.Select(t => t.Name))} is not checked: Manifest/upstream-builders.tsv records no builders "
                    + $"at commit {commit[..12]} (it knows {string.Join(", ", UpstreamBuilders.Commits.Select(c => c[..12]))}); read the install scripts at this commit and record them there (SPEC §4)");
            }

            return;
        }

        foreach (var template in versioned)
        {
            if (ShellSafeGrammar.AppVersion.IsMatch(template.AppVersion!))
            {
                context.Report(template.Path + ".app_version",
                    AppVersionProblem(UpstreamBuilders.Find(commit, template.Builder!), template.Builder!, commit, template.AppVersion!));
            }
        }
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
                context.Report(template.Path + ".vmid", $"vmid {vmid}{FromBase(template)} is already used by template '{owners[vmid]}'"
                    + (template.VmidFromBase is null ? "" : "; give this template its own vmid or move the other one"));
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

        // SPEC §18: the alternatives are refused with the reason; the defaults are built end to end.
        if (manifest.FreePbxKind == FreePbxKind.Vm)
        {
            context.Report("decisions.freepbx_kind",
                "freepbx_kind 'vm' is not built: community-scripts has no FreePBX VM builder (vm/ at the pinned commit has none; FreePBX comes "
                + "only as the LXC ct/freepbx.sh), so there is nothing pinned to build it from; keep lxc");
        }

        if (manifest.FrigatePlacement == FrigatePlacement.Docker)
        {
            context.Report("decisions.frigate_placement",
                $"frigate_placement 'docker' is not built: Frigate inside {DockerPortainerTemplate} would need that guest's first boot to start "
                + "and wire a Frigate container, which ctrlable-firstboot does not do; keep separate (Frigate's own LXC, ct/frigate.sh)");
        }
    }

    private static string FromBase(TemplateDraft template) =>
        template.VmidFromBase is { } first ? $" (vmid_base {first} + {template.Vmid - first}, its place in the file)" : "";
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

        // Values the host passes to a shell or command line: held to the wrapper's grammar (ShellSafeGrammar).
        RuleFor(t => t.AppVersion).Custom((version, context) => context.Report(
            context.InstanceToValidate.Path + ".app_version",
            GrammarProblem(ShellSafeGrammar.AppVersion, version, "app_version", "a version of letters, digits and . _ + ~ - such as 9.x or 1.2.3 (starting with a letter or digit, at most 64 characters)")));
        RuleFor(t => t.Distro).Custom((distro, context) => context.Report(
            context.InstanceToValidate.Path + ".os.distro",
            GrammarProblem(ShellSafeGrammar.Os, distro, "os.distro", "a distribution name of lower-case letters such as debian")));
        RuleFor(t => t.OsVersion).Custom((version, context) => context.Report(
            context.InstanceToValidate.Path + ".os.version",
            GrammarProblem(ShellSafeGrammar.Version, version, "os.version", "a release number such as 12 or 24.04 (up to 4 digits, one optional '.')")));

        RuleFor(t => t.Vmid)
            .InclusiveBetween(MinVmid, MaxVmid)
            .WithMessage(t => $"vmid {t.Vmid}{(t.VmidFromBase is { } first ? $" (vmid_base {first} + {t.Vmid - first})" : "")} is outside {MinVmid}..{MaxVmid}, the range Proxmox accepts")
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

        RuleFor(t => t.HaosVersion)
            .Custom((version, context) => context.Report(
                context.InstanceToValidate.Path + ".haos_version",
                GrammarProblem(ShellSafeGrammar.HaosVersion, version, "haos_version", "a Home Assistant OS release such as 15.1 or 15.1.2")))
            .When(t => !(t.HaosVersion == "" && t.Builder == HaosBuilder)); // the rule above says it is missing

        // The build verifies the downloaded image against it (lower-case hex, as sha256sum prints it).
        RuleFor(t => t.HaosSha256)
            .Must(sha => ShellSafeGrammar.HaosSha256.IsMatch(sha!))
            .When(t => t.HaosSha256 is not null)
            .WithMessage(t => $"haos_sha256 {Quote(t.HaosSha256!)} is not a SHA-256 (64 lower-case hex digits, as sha256sum prints it)")
            .At(t => t.Path + ".haos_sha256");
        RuleFor(t => t.HaosSha256)
            .Null()
            .When(t => t.Builder != HaosBuilder)
            .WithMessage(t => $"haos_sha256 only applies to templates built by {HaosBuilder}")
            .At(t => t.Path + ".haos_sha256");

        // The Home Assistant base backup travels with the release: a file name under the release, and its checksum.
        RuleFor(t => t.BaseBackup)
            .Must(file => ShellSafeGrammar.BaseBackup.IsMatch(file!))
            .When(t => t.BaseBackup is not null)
            .WithMessage(t => $"base_backup {Quote(t.BaseBackup!)} is not a plain file name (letters, digits, '.', '_', '-', starting with a letter or digit, at most 128 characters)")
            .At(t => t.Path + ".base_backup");
        RuleFor(t => t.BaseBackup)
            .Null()
            .When(t => t.Builder != HaosBuilder)
            .WithMessage(t => $"base_backup only applies to templates built by {HaosBuilder}")
            .At(t => t.Path + ".base_backup");
        RuleFor(t => t.BaseBackupSha256)
            .Matches("^[0-9a-f]{64}$")
            .When(t => t.BaseBackupSha256 is not null)
            .WithMessage(t => $"base_backup_sha256 {Quote(t.BaseBackupSha256!)} is not a SHA-256 (64 lower-case hex digits, as sha256sum prints it)")
            .At(t => t.Path + ".base_backup_sha256");
        RuleFor(t => t.BaseBackupSha256)
            .Null()
            .When(t => t.BaseBackup is null)
            .WithMessage("base_backup_sha256 needs base_backup (the file it is the checksum of)")
            .At(t => t.Path + ".base_backup_sha256");

        // Not an error: an operator may accept it on purpose, and the host has the last word (ALLOW_PRIVILEGED).
        RuleFor(t => t.Unprivileged)
            .NotEqual(false)
            .When(t => t.Kind == TemplateKind.Lxc)
            .WithSeverity(Severity.Warning)
            .WithMessage(t => $"template '{t.Name}' is a privileged container: privileged containers share the host's root; "
                + "the host refuses them unless ALLOW_PRIVILEGED=yes in ctrlable-build.conf")
            .At(t => t.Path + ".unprivileged");
    }
}

/// <summary>A failure's YAML path and the path whose position it is shown at.</summary>
internal sealed record YamlLocation(string Path, string LocatedAt);

/// <summary>Attaches the YAML path to FluentValidation failures.</summary>
internal static class ValidationPaths
{
    public static IRuleBuilderOptions<T, TProperty> At<T, TProperty>(this IRuleBuilderOptions<T, TProperty> rule, string path) =>
        rule.WithState(_ => path);

    /// <summary>A failure about <paramref name="path"/> shown at <paramref name="locatedAt"/>'s line (a missing key has none of its own).</summary>
    public static IRuleBuilderOptions<T, TProperty> At<T, TProperty>(this IRuleBuilderOptions<T, TProperty> rule, string path, string locatedAt) =>
        rule.WithState(_ => new YamlLocation(path, locatedAt));

    public static IRuleBuilderOptions<T, TProperty> At<T, TProperty>(this IRuleBuilderOptions<T, TProperty> rule, Func<T, string> path) =>
        rule.WithState(instance => path(instance));

    /// <summary>Adds a warning at <paramref name="path"/>: shown with the file's problems, never making it invalid.</summary>
    public static void ReportWarning<T>(this ValidationContext<T> context, string path, string warning) =>
        context.AddFailure(new ValidationFailure(context.PropertyPath, warning) { CustomState = path, Severity = Severity.Warning });

    /// <summary>Adds a failure at <paramref name="path"/> when <paramref name="problem"/> is not null.</summary>
    public static void Report<T>(this ValidationContext<T> context, string path, string? problem)
    {
        if (problem is not null)
        {
            context.AddFailure(new ValidationFailure(context.PropertyPath, problem) { CustomState = path });
        }
    }
}
