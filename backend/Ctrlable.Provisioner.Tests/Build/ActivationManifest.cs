namespace Ctrlable.Provisioner.Tests.Build;

/// <summary>A valid release (three templates, one of them the HAOS VM) in a releases directory of its own.</summary>
internal static class ActivationManifest
{
    public const string Commit = "dc355d07bff60c8e7bd3263a9c663c391c91ad89";

    /// <summary>Writes <see cref="BuildHost.Release"/> (<see cref="BuildPipelineTests.Manifest"/>) into a fresh directory and returns it.</summary>
    public static string CreateReleasesDirectory()
    {
        var directory = Infrastructure.TempDirectory.Create("releases");
        File.WriteAllText(Path.Combine(directory, BuildHost.Release + ".yaml"), BuildPipelineTests.Manifest
            .Replace("{commit}", Commit, StringComparison.Ordinal)
            .Replace("{haos_sha256}", new string('a', 64), StringComparison.Ordinal));
        return directory;
    }
}
