using System.Collections.Concurrent;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.HomeAssistant.Setup;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.PveSim;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Hosting;
using Ctrlable.PveSim.Seeding;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SimGuestKind = Ctrlable.PveSim.Guests.GuestKind;

namespace Ctrlable.Provisioner.Tests.Infrastructure;

/// <summary>
/// A Proxmox emulator with the product's least-privilege token, and the product's own Proxmox client
/// wired exactly as the orchestrator wires it (resilience, pinning, auth), plus a recorder of every
/// attempt the client sends.
/// </summary>
internal sealed class ProxmoxHarness : IAsyncDisposable
{
    public const int LxcTemplate = 9001;
    public const int QemuTemplate = 9000;
    public const int ForeignGuest = 500;

    private readonly ServiceProvider _services;

    private ProxmoxHarness(PveSimulator sim, ServiceProvider services, ProxmoxConnection connection, RequestRecorder recorder)
    {
        Sim = sim;
        _services = services;
        Connection = connection;
        Recorder = recorder;
    }

    public PveSimulator Sim { get; }
    public ProxmoxConnection Connection { get; }
    public RequestRecorder Recorder { get; }
    public ProxmoxClient Client => _services.GetRequiredService<ProxmoxClient>();
    public ProxmoxTasks Tasks => _services.GetRequiredService<ProxmoxTasks>();

    public static async Task<ProxmoxHarness> StartAsync(
        PveVersion? version = null,
        IReadOnlyList<string>? nodes = null,
        string? pinnedFingerprint = null,
        Action<ProxmoxOptions>? configure = null,
        IGuestBootBehaviour? bootBehaviour = null,
        double timingScale = 0.02,
        bool foreignGuests = false,
        TimeProvider? time = null)
    {
        var v = version ?? PveVersion.V9_1;
        var sim = await PveSimulator.StartAsync(new PveSimOptions
        {
            Version = v,
            Nodes = nodes ?? ["pve1"],
            TimingScale = timingScale,
            RandomSeed = 7,
            // A test's clock (e.g. one it jumps forward to a backup's slot) is the emulator's too.
            TimeProvider = time ?? TimeProvider.System,
            // Guests cloned from first-boot templates run this (e.g. FirstBootGuests: the real script against the orchestrator).
            BootBehaviour = bootBehaviour ?? new NoFirstBootBehaviour(),
        });
        var token = sim.Seed(LeastPrivilege.Spec(v) with
        {
            Templates =
                [
                    // Tagged as the build tags the HAOS template: its clones run the Home Assistant emulator.
                    new TemplateSeed(QemuTemplate, "ctrlable-pro", SimGuestKind.Qemu, 32) { Pool = "ctrlable-templates", Tags = ["ctrlable", HomeAssistantSetup.TemplateTag], HomeAssistantCoreOnDisk = true },
                    new TemplateSeed(LxcTemplate, "zwavejs", SimGuestKind.Lxc, 8, FirstBoot: true) { Pool = "ctrlable-templates" },
                ],
            // With foreignGuests: another admin's guests at 100, 999 and 10000, the last two in the product's pool (its token sees them).
            Guests = [new TemplateSeed(ForeignGuest, "customer-nas", SimGuestKind.Qemu, 16) { Running = true }, .. foreignGuests ? ForeignGuests.Seeds("ctrlable") : []],
        }).Tokens.Single();
        var connection = new ProxmoxConnection(sim.BaseAddress, token.TokenId, token.Secret, pinnedFingerprint ?? sim.CertificateFingerprint, simulated: true);

        var recorder = new RequestRecorder();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(new ProxmoxConnections(connection));
        services.AddSingleton<IOptions<ProxmoxOptions>>(Options.Create(Configure(configure)));
        services.AddProxmoxHttpClient();
        // Inside the resilience handler: sees every attempt, retries included. One recorder instance can sit in one
        // pipeline only: the factory must never rebuild it (by default it does after 2 minutes, and a harness shared
        // by a test class on a loaded machine lives longer than that).
        services.AddHttpClient(ProxmoxClient.HttpClientName).AddHttpMessageHandler(() => recorder).SetHandlerLifetime(Timeout.InfiniteTimeSpan);
        return new ProxmoxHarness(sim, services.BuildServiceProvider(), connection, recorder);
    }

    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync();
        await Sim.DisposeAsync();
    }

    private static ProxmoxOptions Configure(Action<ProxmoxOptions>? configure)
    {
        var options = new ProxmoxOptions();
        configure?.Invoke(options);
        return options;
    }
}

/// <summary>Records each HTTP attempt: method, path and query, and the form body.</summary>
internal sealed class RequestRecorder : DelegatingHandler
{
    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var form = request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken);
        Requests.Enqueue(new RecordedRequest(request.Method.Method, request.RequestUri!.AbsolutePath, request.RequestUri.Query, form));
        return await base.SendAsync(request, cancellationToken);
    }
}

internal sealed record RecordedRequest(string Method, string Path, string Query, string Form);
