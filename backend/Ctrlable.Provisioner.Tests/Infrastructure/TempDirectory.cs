namespace Ctrlable.Provisioner.Tests.Infrastructure;

internal static class TempDirectory
{
    public static string Create(string purpose)
    {
        var path = Path.Combine(Path.GetTempPath(), "ctrlable-tests", $"{purpose}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return path;
    }

    public static void TryDelete(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open (e.g. a pooled SQLite handle) only leaks a temp dir.
        }
    }
}
