using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Ctrlable.Provisioner.Tests.Infrastructure;

/// <summary>
/// A real OpenSSH server (Debian's openssh-server) on a free loopback port, with its own ed25519 host key and an
/// authorized_keys file whose one entry carries a forced command, like the Proxmox host's build key:
/// <code>command="...",restrict ssh-ed25519 AAAA... ctrlable-build-test</code>
/// It runs as the current user (root in CI), logs to <see cref="Log"/> and is stopped by its own PID.
/// </summary>
internal sealed class SshServer : IDisposable
{
    public const string SshdPath = "/usr/sbin/sshd";

    private readonly Process _process;
    private readonly StringBuilder _log = new();

    private SshServer(string directory, int port, string hostKeyFingerprint, string clientKeyPath, Process process)
    {
        Directory = directory;
        Port = port;
        HostKeyFingerprint = hostKeyFingerprint;
        ClientKeyPath = clientKeyPath;
        _process = process;
    }

    public string Directory { get; }
    public int Port { get; }

    /// <summary>"SHA256:..." as ssh-keygen -lf prints it.</summary>
    public string HostKeyFingerprint { get; }

    /// <summary>The build key's private half (unencrypted OpenSSH ed25519).</summary>
    public string ClientKeyPath { get; }

    public string User { get; } = Environment.UserName;

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public static bool IsAvailable => File.Exists(SshdPath);

    /// <summary>Starts sshd; every connection with the client key runs <paramref name="forcedCommand"/>.</summary>
    public static async Task<SshServer> StartAsync(string forcedCommand)
    {
        var dir = TempDirectory.Create("sshd");
        var hostKey = Path.Combine(dir, "ssh_host_ed25519_key");
        var clientKey = Path.Combine(dir, "build_key");
        await Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test-host", "-f", hostKey);
        await Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ctrlable-build-test", "-f", clientKey);
        var fingerprint = (await Run("ssh-keygen", "-lf", hostKey + ".pub")).Split(' ')[1];
        var publicKey = (await File.ReadAllTextAsync(clientKey + ".pub")).Trim();
        var escaped = forcedCommand.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);
        await File.WriteAllTextAsync(Path.Combine(dir, "authorized_keys"), $"command=\"{escaped}\",restrict {publicKey}\n");

        // sshd refuses to start without its privilege separation directory.
        if (Environment.UserName == "root")
        {
            System.IO.Directory.CreateDirectory("/run/sshd");
        }

        var port = TestPorts.Free();
        var config = Path.Combine(dir, "sshd_config");
        await File.WriteAllTextAsync(config, $"""
            Port {port}
            ListenAddress 127.0.0.1
            HostKey {hostKey}
            PidFile {dir}/sshd.pid
            AuthorizedKeysFile {dir}/authorized_keys
            UsePAM no
            StrictModes no
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PubkeyAuthentication yes
            PermitRootLogin prohibit-password
            AllowUsers {Environment.UserName}
            LogLevel VERBOSE

            """);

        var process = new Process
        {
            StartInfo = new ProcessStartInfo(SshdPath)
            {
                ArgumentList = { "-D", "-e", "-f", config },
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            },
        };
        var server = new SshServer(dir, port, fingerprint, clientKey, process);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"sshd exited with {process.ExitCode}: {server.Log}");
            }

            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return server;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(5000);
        }

        _process.Dispose();
        TempDirectory.TryDelete(Directory);
    }

    /// <summary>Runs a program to completion; its standard output, or an exception with its error output.</summary>
    public static async Task<string> Run(string program, params string[] args)
    {
        var run = await ChildProcess.RunAsync(new ProcessStartInfo(program, args));
        if (run.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited with {run.ExitCode}: {run.Stderr}");
        }

        return run.Stdout;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            _log.AppendLine(line);
        }
    }
}
