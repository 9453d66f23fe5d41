using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Ctrlable.Provisioner.Build;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Build;

/// <summary>
/// host/ctrlable-build behind a real sshd with the forced command, called the way an attacker holding the build
/// key could: anything but "ctrlable-build &lt;release&gt;" with a ticket is refused with one line and exit 64,
/// before anything is created; a second build while one holds the lock is refused with exit 75.
/// </summary>
public sealed class WrapperTests(WrapperTests.Host host) : IClassFixture<WrapperTests.Host>
{
    private SshServer Ssh => host.Ssh;
    private string Marker => Path.Combine(host.Directory, "pwned");
    private string WorkDir => Path.Combine(host.Directory, "work");
    private string LockFile => Path.Combine(host.Directory, "build.lock");

    public static TheoryData<string> Injections => new()
    {
        "ctrlable-build 2026.06; touch {marker}",
        "ctrlable-build 2026.06 && touch {marker}",
        "ctrlable-build $(touch {marker})",
        "ctrlable-build `touch {marker}`",
        "ctrlable-build 2026.06 extra",
        "ctrlable-build 2026.06\ntouch {marker}",
        "ctrlable-build  2026.06",
        "ctrlable-build ../../etc/passwd",
        "ctrlable-build 2026.06/../../x",
        "ctrlable-build 2026.13",
        "ctrlable-build 26.06",
        "ctrlable-build '2026.06'",
        "ctrlable-build",
        "touch {marker}",
        "/usr/local/sbin/ctrlable-build 2026.06",
        "bash -c 'touch {marker}'",
        "ctrlable-build --check",
        "ctrlable-build --check 2026.06 extra",
        "ctrlable-build --check  2026.06",
        "ctrlable-build --check=2026.06",
        "ctrlable-build -c 2026.06",
        "ctrlable-build --CHECK 2026.06",
        "ctrlable-build 2026.06 --check",
        "ctrlable-build --check --check 2026.06",
        "ctrlable-build --check 2026.06; touch {marker}",
        "ctrlable-build --check $(touch {marker})",
        "ctrlable-build --force 2026.06",
    };

    [Theory]
    [MemberData(nameof(Injections))]
    public async Task Anything_but_ctrlable_build_and_a_release_is_refused_with_one_line(string command)
    {
        var (exit, stdout, stderr) = await RunAsync(command.Replace("{marker}", Marker, StringComparison.Ordinal), ValidTicketLine());

        exit.Should().Be(64, stderr);
        stderr.Should().Be("ctrlable-build: refused: expected 'ctrlable-build <release>' or 'ctrlable-build --check <release>' with a release such as 2026.06\n");
        stdout.Should().BeEmpty();
        File.Exists(Marker).Should().BeFalse();
        System.IO.Directory.Exists(WorkDir).Should().BeFalse("nothing starts before the request is accepted");
    }

    [Theory]
    [InlineData("\n", "no build ticket on standard input")]
    [InlineData("ticket=ctp_not-a-build-ticket\n", "unexpected input (only 'ticket=...' is read)")]
    [InlineData("ticket=ctb_short\n", "unexpected input (only 'ticket=...' is read)")]
    [InlineData("ORCHESTRATOR_URL=https://evil.invalid\n", "unexpected input (only 'ticket=...' is read)")]
    public async Task A_valid_request_without_a_proper_ticket_is_refused(string input, string reason)
    {
        foreach (var command in new[] { "ctrlable-build 2026.06", "ctrlable-build --check 2026.06" })
        {
            var (exit, stdout, stderr) = await RunAsync(command, input);

            exit.Should().Be(64, command);
            stderr.Should().Be($"ctrlable-build: refused: {reason}\n");
            stdout.Should().BeEmpty();
            System.IO.Directory.Exists(WorkDir).Should().BeFalse();
        }
    }

    [Fact]
    public async Task Without_the_forced_command_environment_the_wrapper_refuses()
    {
        var result = await RunLocallyAsync(BuildHost.Wrapper, sshOriginalCommand: null);

        result.Exit.Should().Be(64);
        result.Stderr.Should().Be("ctrlable-build: refused: run through the build key's forced SSH command as 'ctrlable-build <release>'\n");
    }

    [Fact]
    public async Task A_second_build_while_another_holds_the_lock_is_refused()
    {
        // Returns once the kernel lists the lock as held (/proc/locks), not after a guessed wait.
        using var holder = await BuildHost.HoldLockAsync(LockFile);
        try
        {
            var (exit, stdout, stderr) = await RunAsync("ctrlable-build 2026.06", ValidTicketLine());

            exit.Should().Be(75, stderr);
            stderr.Should().Be("ctrlable-build: another build is running on this host; try again when it has finished\n");
            stdout.Should().BeEmpty();
        }
        finally
        {
            holder.Kill(entireProcessTree: true);
            await holder.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task A_server_with_another_certificate_than_the_pinned_one_gets_no_ticket()
    {
        var (exit, _, stderr) = await RunAsync("ctrlable-build 2026.06", ValidTicketLine());

        exit.Should().Be(1);
        var presented = Ctrlable.Provisioner.Proxmox.ProxmoxConnection.FingerprintOf(host.ImpostorCertificate);
        stderr.Should().Be($"ctrlable-build: the orchestrator's certificate ({presented}) is not the pinned one ({PinnedFingerprint}): refusing to talk to it\n");
        Impostor.Requests.Should().BeEmpty("the wrapper sends nothing, least of all the ticket, to a server it does not trust");
        System.IO.Directory.Delete(WorkDir, recursive: true);
    }

    /// <summary>Completes TLS handshakes and records whatever a client sends afterwards.</summary>
    private static async Task ServeImpostorAsync(TcpListener listener, X509Certificate2 certificate)
    {
        while (true)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = Task.Run(async () =>
            {
                using (client)
                {
                    try
                    {
                        await using var tls = new SslStream(client.GetStream());
                        await tls.AuthenticateAsServerAsync(certificate);
                        var buffer = new byte[4096];
                        var read = await tls.ReadAsync(buffer);
                        if (read > 0)
                        {
                            Impostor.Requests.Enqueue(Encoding.UTF8.GetString(buffer, 0, read));
                        }
                    }
                    catch (Exception e) when (e is IOException or AuthenticationException)
                    {
                        // A client that gave up on the handshake.
                    }
                }
            });
        }
    }

    /// <summary>sshd with the wrapper as forced command, and an HTTPS server with a certificate other than the pinned one.</summary>
    public sealed class Host : IAsyncLifetime
    {
        private TcpListener? _impostor;

        public string Directory { get; private set; } = "";
        internal SshServer Ssh { get; private set; } = null!;
        public X509Certificate2 ImpostorCertificate { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Directory = TempDirectory.Create("wrapper");
            using (var key = ECDsa.Create(ECCurve.NamedCurves.nistP256))
            {
                using var self = new CertificateRequest("CN=impostor", key, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
                ImpostorCertificate = X509CertificateLoader.LoadPkcs12(self.Export(X509ContentType.Pkcs12), null);
            }

            _impostor = new TcpListener(IPAddress.Loopback, 0);
            _impostor.Start();
            _ = ServeImpostorAsync(_impostor, ImpostorCertificate);
            var conf = Path.Combine(Directory, "ctrlable-build.conf");
            await File.WriteAllTextAsync(conf, $"""
                ORCHESTRATOR_URL=https://127.0.0.1:{((IPEndPoint)_impostor.LocalEndpoint).Port}
                ORCHESTRATOR_FINGERPRINT={PinnedFingerprint}
                WORK_DIR={Path.Combine(Directory, "work")}
                LOG_DIR={Path.Combine(Directory, "logs")}
                LOCK_FILE={Path.Combine(Directory, "build.lock")}
                NODE=pve1

                """);
            Ssh = await SshServer.StartAsync($"env CTRLABLE_BUILD_CONF={conf} {BuildHost.Wrapper}");
        }

        public Task DisposeAsync()
        {
            _impostor?.Stop();
            ImpostorCertificate?.Dispose();
            Ssh?.Dispose();
            TempDirectory.TryDelete(Directory);
            return Task.CompletedTask;
        }
    }

    private static string PinnedFingerprint => string.Join(':', Enumerable.Repeat("AB", 32));

    private static class Impostor
    {
        public static ConcurrentQueue<string> Requests { get; } = new();
    }

    private static string ValidTicketLine() => $"ticket={BuildTickets.New()}\n";

    private Task<(int Exit, string Stdout, string Stderr)> RunAsync(string command, string input) => BuildHost.RunOverSshAsync(Ssh, command, input);

    private static async Task<(int Exit, string Stderr)> RunLocallyAsync(string wrapper, string? sshOriginalCommand)
    {
        var start = new ProcessStartInfo("bash", [wrapper])
        {
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.Environment.Remove("SSH_ORIGINAL_COMMAND");
        if (sshOriginalCommand is not null)
        {
            start.Environment["SSH_ORIGINAL_COMMAND"] = sshOriginalCommand;
        }

        start.Environment["CTRLABLE_BUILD_CONF"] = "/nonexistent";
        var run = await ChildProcess.RunAsync(start, stdin: "");
        return (run.ExitCode, run.Stderr);
    }
}
