using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Ctrlable.Provisioner.Manifest;
using Microsoft.AspNetCore.WebUtilities;

namespace Ctrlable.Provisioner.Build;

/// <summary>
/// What the host wrapper builds, as tab-separated lines it can read without a YAML or JSON parser: the manifest
/// (already validated) plus this build's id and force flag and the orchestrator's storage and bridge, so clones
/// land where deploys put them. Version 1:
/// <code>
/// ctrlable-build-plan 1 · release R · build N · ref TAG · commit SHA · force 0|1 · storage S · bridge B · pool P
/// template name kind builder vmid cpu ram disk os version unprivileged app_version portainer haos_version haos_sha256 rebrand base_backup
/// end
/// </code>
/// Absent optional values are "-". Every manifest value is checked against <see cref="ShellSafeGrammar"/> (the wrapper's
/// check_field patterns) before it is written: the validator has already held the manifest to it, so a failure is a bug.
/// </summary>
public static class BuildPlan
{
    public const string ContentType = "text/tab-separated-values";

    public static string Render(long buildId, ReleaseManifest manifest, bool force, string storage, string bridge, string pool)
    {
        var text = new StringBuilder();
        void Line(params object?[] fields) =>
            text.Append(string.Join('\t', fields.Select(f => f switch
            {
                null => "-",
                bool b => b ? "1" : "0",
                IFormattable n => n.ToString(null, CultureInfo.InvariantCulture),
                _ => Clean(f.ToString()),
            }))).Append('\n');

        Line("ctrlable-build-plan", 1);
        Line("release", manifest.Release);
        Line("build", buildId);
        Line("ref", ShellSafeGrammar.Ref.ForPlan(manifest.CommunityScriptsRef));
        Line("commit", ShellSafeGrammar.Commit.ForPlan(manifest.CommunityScriptsCommit));
        Line("force", force);
        Line("storage", storage);
        Line("bridge", bridge);
        Line("pool", pool);
        foreach (var t in manifest.Templates)
        {
            Line(
                "template",
                ShellSafeGrammar.Name.ForPlan(t.Name),
                ShellSafeGrammar.Kind.ForPlan(t.Kind == TemplateKind.Lxc ? "lxc" : "vm"),
                ShellSafeGrammar.Builder.ForPlan(t.Builder),
                ShellSafeGrammar.Vmid.ForPlan(Number(t.Vmid)),
                ShellSafeGrammar.Cpu.ForPlan(Number(t.Resources.Cpu)),
                ShellSafeGrammar.Ram.ForPlan(Number(t.Resources.RamMiB)),
                ShellSafeGrammar.Disk.ForPlan(Number(t.Resources.DiskGb)),
                ShellSafeGrammar.Os.ForPlan(t.Os.Distro),
                ShellSafeGrammar.Version.ForPlan(t.Os.Version),
                ShellSafeGrammar.Unprivileged.ForPlan(Flag(t.Unprivileged)),
                ShellSafeGrammar.AppVersion.ForPlan(t.AppVersion),
                ShellSafeGrammar.Portainer.ForPlan(Flag(t.Portainer)),
                ShellSafeGrammar.HaosVersion.ForPlan(t.HaosVersion),
                ShellSafeGrammar.HaosSha256.ForPlan(t.HaosSha256),
                ShellSafeGrammar.Rebrand.ForPlan(Flag(t.Rebrand)),
                ShellSafeGrammar.BaseBackup.ForPlan(t.BaseBackup));
        }

        Line("end");
        return text.ToString();
    }

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Flag(bool value) => value ? "1" : "0";

    // A field can never break the line structure; the wrapper validates every field again anyway.
    private static string Clean(string? value) =>
        string.IsNullOrEmpty(value) ? "-" : new string([.. value.Select(c => char.IsWhiteSpace(c) || char.IsControl(c) ? '_' : c)]);
}

/// <summary>
/// Build tickets: <c>ctb_</c> + 32 random bytes (base64url, 43 characters). Only the SHA-256 is stored; a ticket
/// belongs to one running build, is good for one plan fetch and one secret handover, and dies with the build.
/// </summary>
public static class BuildTickets
{
    public const string Prefix = "ctb_";

    public static string New() => Prefix + WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(32));

    public static string Hash(string ticket) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ticket)));

    /// <summary>The ticket of an <c>Authorization: Bearer ctb_...</c> header, or null.</summary>
    public static string? FromRequest(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var ticket = header[7..].Trim();
        return ticket.StartsWith(Prefix, StringComparison.Ordinal) && ticket.Length == Prefix.Length + 43 ? ticket : null;
    }
}
