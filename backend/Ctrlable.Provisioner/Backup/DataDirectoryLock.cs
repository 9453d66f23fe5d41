using Ctrlable.Provisioner.Config;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Backup;

/// <summary>
/// <c>&lt;data&gt;/provisioner.lock</c>, held exclusively (an advisory <c>flock</c>: the kernel lets go when the process
/// ends, a crash included) by the orchestrator while it serves and by a restore while it writes: so a restore never
/// writes under a running orchestrator, and no second orchestrator serves the same data directory.
/// </summary>
public sealed class DataDirectoryLock : IDisposable
{
    public const string FileName = "provisioner.lock";

    private readonly FileStream _stream;

    private DataDirectoryLock(FileStream stream, bool created)
    {
        _stream = stream;
        Created = created;
    }

    /// <summary>Whether this acquisition made the lock file (a failed restore removes it again).</summary>
    public bool Created { get; }

    public string Path => _stream.Name;

    /// <summary>The lock, or null while another process (or another holder in this one) has it.</summary>
    public static DataDirectoryLock? TryAcquire(string directory)
    {
        var path = System.IO.Path.Combine(directory, FileName);
        var created = !File.Exists(path);
        var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            // FileShare.None is an exclusive, non-blocking flock on Linux.
            return new DataDirectoryLock(new FileStream(path, options), created);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Lets go and removes the lock file (only for a holder that made it and leaves the directory as it found it).</summary>
    public void ReleaseAndRemove()
    {
        var path = Path;
        _stream.Dispose();
        File.Delete(path);
    }

    public void Dispose() => _stream.Dispose();

    /// <summary>The one line a second orchestrator or a restore prints when the data directory is taken.</summary>
    public static string Held(string directory) =>
        $"an orchestrator is running on {directory} (it holds {System.IO.Path.Combine(directory, FileName)}): stop it first (systemctl stop ctrlable-provisioner)";
}

public static class DataDirectoryLockExtensions
{
    /// <summary>Holds the data directory's lock until the orchestrator stops; false with one line when another process has it.</summary>
    public static async Task<bool> HoldDataDirectoryAsync(this WebApplication app)
    {
        var directory = System.IO.Path.GetFullPath(app.Services.GetRequiredService<IOptions<StorageOptions>>().Value.DataDirectory);
        var held = DataDirectoryLock.TryAcquire(directory);
        if (held is null)
        {
            await Console.Error.WriteLineAsync($"storage error: {DataDirectoryLock.Held(directory)}.");
            return false;
        }

        app.Lifetime.ApplicationStopped.Register(held.Dispose);
        return true;
    }
}
