namespace Ctrlable.Provisioner.Manifest;

/// <summary>What a builder's install script does with <c>var_appversion</c> at one upstream commit.</summary>
public enum AppVersioning
{
    /// <summary>The script installs "latest" through fetch_and_deploy_gh_release: var_appversion (the exact tag) decides.</summary>
    Honoured,

    /// <summary>The script names its own version; var_appversion must never reach it and app_version must be that version.</summary>
    Pinned,

    /// <summary>The app does not come from a GitHub release: the builder has no app version.</summary>
    None,
}

/// <summary>One line of Manifest/upstream-builders.tsv.</summary>
/// <param name="Commit">The community-scripts commit the line describes.</param>
/// <param name="Builder">ct/&lt;name&gt;.sh or vm/&lt;name&gt;.sh.</param>
/// <param name="Versioning">What the install script does with var_appversion.</param>
/// <param name="Version">The version a pinned builder installs, as tools.func records it (the tag's leading 'v' dropped).</param>
/// <param name="Repo">The GitHub repository the app's releases come from (honoured and pinned builders).</param>
/// <param name="TagPrefix">What precedes the version in the repo's tags ("v" or ""): var_appversion is TagPrefix + app_version.</param>
/// <param name="Source">file:line at the commit that shows it.</param>
/// <param name="Installs">What the builder installs, in words.</param>
public sealed record UpstreamBuilder(
    string Commit, string Builder, AppVersioning Versioning, string? Version, string? Repo, string TagPrefix, string Source, string Installs)
{
    /// <summary>The release tag var_appversion must name for <paramref name="version"/> (fetch_and_deploy_gh_release reads releases/tags/&lt;it&gt;).</summary>
    public string TagFor(string version) => TagPrefix + version;
}

/// <summary>
/// The builders' behaviour per community-scripts commit, read from the embedded Manifest/upstream-builders.tsv — the one
/// table the validator and scripts/pin-release.sh share. A release pinned to a commit the table lists has its app versions
/// checked against it; SPEC §4 says the same in words.
/// </summary>
public static class UpstreamBuilders
{
    public const string ResourceName = "upstream-builders.tsv";

    public static IReadOnlyList<UpstreamBuilder> All { get; } = Load();

    /// <summary>The commits the table describes.</summary>
    public static IReadOnlyList<string> Commits { get; } = [.. All.Select(b => b.Commit).Distinct(StringComparer.Ordinal)];

    public static bool Knows(string commit) => Commits.Contains(commit, StringComparer.Ordinal);

    public static UpstreamBuilder? Find(string commit, string builder) =>
        All.FirstOrDefault(b => b.Commit == commit && b.Builder == builder);

    /// <summary>The builders that take var_appversion at <paramref name="commit"/>.</summary>
    public static IReadOnlyList<UpstreamBuilder> Honouring(string commit) =>
        [.. All.Where(b => b.Commit == commit && b.Versioning == AppVersioning.Honoured)];

    internal static IReadOnlyList<UpstreamBuilder> Parse(string text)
    {
        var builders = new List<UpstreamBuilder>();
        foreach (var (line, number) in text.Split('\n').Select((l, i) => (l.TrimEnd('\r'), i + 1)))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var f = line.Split('\t');
            if (f.Length != 8)
            {
                throw new InvalidDataException($"{ResourceName}:{number}: expected 8 tab-separated fields, got {f.Length}");
            }

            var versioning = f[2] switch
            {
                "honoured" => AppVersioning.Honoured,
                "pinned" => AppVersioning.Pinned,
                "none" => AppVersioning.None,
                _ => throw new InvalidDataException($"{ResourceName}:{number}: versioning '{f[2]}' is not honoured, pinned or none"),
            };
            builders.Add(new UpstreamBuilder(f[0], f[1], versioning, Dash(f[3]), Dash(f[4]), Dash(f[5]) ?? "", f[6], f[7]));
        }

        return builders;
    }

    private static string? Dash(string value) => value == "-" ? null : value;

    private static IReadOnlyList<UpstreamBuilder> Load()
    {
        using var stream = typeof(UpstreamBuilders).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded {ResourceName} is missing from the build.");
        using var reader = new StreamReader(stream);
        return Parse(reader.ReadToEnd());
    }
}
