using System.Net.Sockets;
using System.Text;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Secrets;
using Microsoft.Extensions.Options;
using Renci.SshNet;
using Renci.SshNet.Common;
using SshConnectionInfo = Renci.SshNet.ConnectionInfo;

namespace Ctrlable.Provisioner.Build;

/// <summary>What the host trigger asks the wrapper for: a build, or the preflight that changes nothing.</summary>
public enum HostCommand
{
    /// <summary><c>ctrlable-build &lt;release&gt;</c></summary>
    Build,

    /// <summary><c>ctrlable-build --check &lt;release&gt;</c></summary>
    Check,
}

/// <summary>Runs <c>ctrlable-build [--check] &lt;release&gt;</c> on the Proxmox host and streams its output.</summary>
public interface IHostTrigger
{
    bool IsConfigured { get; }

    /// <summary>user@host:port; one build at a time runs per target.</summary>
    string Target { get; }

    /// <summary>
    /// Runs the build (or the check) for <paramref name="release"/>, writes <paramref name="input"/> to its standard input and
    /// hands every output line to <paramref name="onLine"/> (stderr lines with <c>true</c>). Returns the exit code.
    /// Throws <see cref="HostTriggerException"/> when the host cannot be reached or is not the configured one.
    /// </summary>
    Task<int> RunAsync(HostCommand command, string release, string input, Func<string, bool, Task> onLine, CancellationToken ct);
}

/// <summary>
/// The host trigger failed before or while running the wrapper; the message is for the dealer. <paramref name="lostDuringRun"/>:
/// the wrapper was started and the orchestrator lost it (it may still be running on the host).
/// </summary>
public sealed class HostTriggerException(string message, Exception? inner = null, bool lostDuringRun = false) : Exception(message, inner)
{
    public bool LostDuringRun { get; } = lostDuringRun;
}

/// <summary>
/// SSH.NET client with the dedicated build key. The host key is checked against HostTrigger:HostKeyFingerprint
/// (SHA-256), never trusted on first use; the forced command on the host ignores what we ask for beyond its one
/// pattern, but we ask for exactly <c>ctrlable-build &lt;release&gt;</c> or <c>ctrlable-build --check &lt;release&gt;</c>.
/// </summary>
public sealed class SshHostTrigger(IOptions<HostTriggerOptions> options, SecretStore secrets, ILogger<SshHostTrigger> logger) : IHostTrigger
{
    private readonly HostTriggerOptions _options = options.Value;

    public bool IsConfigured => _options.IsConfigured;

    public string Target => $"{_options.User}@{_options.Host}:{_options.Port}";

    public async Task<int> RunAsync(HostCommand command, string release, string input, Func<string, bool, Task> onLine, CancellationToken ct)
    {
        if (!IsConfigured)
        {
            throw new HostTriggerException("No host trigger is configured (HostTrigger:Host).");
        }

        var passphrase = await secrets.GetAsync(SecretKind.HostTriggerKeyPassphrase, "default", ct);
        PrivateKeyFile key;
        try
        {
            key = passphrase is null ? new PrivateKeyFile(_options.KeyPath) : new PrivateKeyFile(_options.KeyPath, passphrase);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SshException or ArgumentException)
        {
            throw new HostTriggerException($"Cannot read the build key {_options.KeyPath}: {e.Message}", e);
        }

        using (key)
        {
            var info = new SshConnectionInfo(_options.Host, _options.Port, _options.User, new PrivateKeyAuthenticationMethod(_options.User, key))
            {
                Timeout = TimeSpan.FromSeconds(15),
            };
            using var client = new SshClient(info);
            var expected = NormalizeFingerprint(_options.HostKeyFingerprint);
            string? presented = null;
            client.HostKeyReceived += (_, e) =>
            {
                presented = e.FingerPrintSHA256;
                e.CanTrust = string.Equals(NormalizeFingerprint(presented), expected, StringComparison.Ordinal);
            };

            try
            {
                await client.ConnectAsync(ct);
            }
            catch (Exception e) when (e is SshConnectionException && presented is not null && NormalizeFingerprint(presented) != expected)
            {
                throw new HostTriggerException(
                    $"The host {_options.Host}:{_options.Port} presented host key SHA256:{presented}, not the configured HostTrigger:HostKeyFingerprint SHA256:{expected}. Refusing to connect: check the fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub).", e);
            }
            catch (SshAuthenticationException e)
            {
                throw new HostTriggerException($"The host {_options.Host}:{_options.Port} refused the build key for user {_options.User}: add its public key with the forced command to authorized_keys ({e.Message}).", e);
            }
            catch (Exception e) when (e is SocketException or SshException or TimeoutException or IOException)
            {
                throw new HostTriggerException($"Cannot connect to the host trigger {_options.Host}:{_options.Port}: {e.Message}", e);
            }

            // The release is a manifest file's name (YYYY.MM[.N]), checked by the catalog: nothing a shell would read.
            var text = command == HostCommand.Check ? $"ctrlable-build --check {release}" : $"ctrlable-build {release}";
            logger.LogInformation("Host trigger {Target}: running {Command}", Target, text);
            using var ssh = client.CreateCommand(text);
            var execution = ssh.ExecuteAsync(ct);
            var stdout = PumpAsync(ssh.OutputStream, false, onLine);
            var stderr = PumpAsync(ssh.ExtendedOutputStream, true, onLine);
            try
            {
                await using var stdin = ssh.CreateInputStream();
                await stdin.WriteAsync(Encoding.UTF8.GetBytes(input), ct);
            }
            catch (Exception e) when (e is SshException or ObjectDisposedException or IOException or InvalidOperationException)
            {
                // The wrapper may refuse (and exit) before reading its input, e.g. a request it does not know: its exit
                // code and error line say why, so a write that finds the channel closed is no error of its own.
                logger.LogDebug("Host trigger {Target}: standard input not delivered ({Error})", Target, e.Message);
            }

            try
            {
                await execution;
            }
            catch (SshException e)
            {
                throw new HostTriggerException($"The connection to the host trigger {_options.Host}:{_options.Port} broke during the {What(command)} ({e.Message.TrimEnd('.')}).", e, lostDuringRun: true);
            }
            finally
            {
                await Task.WhenAll(stdout, stderr);
            }

            client.Disconnect();
            // No exit status: the wrapper was killed (it ended), or the channel closed under it (it may run on).
            return ssh.ExitStatus ?? throw (ssh.ExitSignal is { } signal
                ? new HostTriggerException($"ctrlable-build on {_options.Host} was ended by signal {signal} during the {What(command)}.")
                : new HostTriggerException($"The host trigger {_options.Host}:{_options.Port} closed the connection during the {What(command)} without an exit status.", lostDuringRun: true));
        }
    }

    private static string What(HostCommand command) => command == HostCommand.Check ? "check" : "build";

    /// <summary>"SHA256:abc..=" or "abc.." → "abc.." (unpadded base64, as SSH.NET reports it).</summary>
    public static string NormalizeFingerprint(string fingerprint)
    {
        var value = fingerprint.Trim();
        if (value.StartsWith("SHA256:", StringComparison.Ordinal))
        {
            value = value["SHA256:".Length..];
        }

        return value.TrimEnd('=');
    }

    private static async Task PumpAsync(Stream stream, bool isError, Func<string, bool, Task> onLine)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, leaveOpen: true);
        while (await reader.ReadLineAsync() is { } line)
        {
            await onLine(line, isError);
        }
    }
}
