namespace Ctrlable.Provisioner.Tests.Infrastructure;

/// <summary>Paths inside the repository, found from the test binaries upward.</summary>
internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string Releases => Path.Combine(Root, "releases");

    /// <summary>The product's project folder: its appsettings.json and built SPA make the app's content root.</summary>
    public static string Product => Path.Combine(Root, "backend", "Ctrlable.Provisioner");

    public static string OpenApiSnapshot => Path.Combine(Root, "frontend", "openapi.json");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Ctrlable.Provisioner.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Ctrlable.Provisioner.sln not found above " + AppContext.BaseDirectory);
    }
}
