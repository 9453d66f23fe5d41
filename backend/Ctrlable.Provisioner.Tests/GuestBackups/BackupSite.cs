using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Deploy;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Ctrlable.PveSim.Seeding;
using SimGuestKind = Ctrlable.PveSim.Guests.GuestKind;

namespace Ctrlable.Provisioner.Tests.GuestBackups;

/// <summary>
/// A clock that runs at the real rate from a chosen moment and can jump forward (timers stay real, so Proxmox task
/// polling and the scheduler's interval work as in production), in UTC as its local time zone.
/// </summary>
internal sealed class JumpingClock(DateTimeOffset start) : TimeProvider
{
    private long _offsetTicks = (start - System.GetUtcNow()).Ticks;

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));

    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    public void JumpTo(DateTimeOffset at) => Interlocked.Exchange(ref _offsetTicks, (at - System.GetUtcNow()).Ticks);
}

/// <summary>
/// An orchestrator against the emulator (least-privilege token, another admin's guests at 100, 999 and 10000, the last
/// two in the product's pool), a project with backups set (daily at 03:00 UTC onto <c>local</c>) and guests of its own.
/// </summary>
internal sealed class BackupSite : IAsyncDisposable
{
    public static readonly DateTimeOffset BeforeSlot = new(2031, 3, 4, 2, 59, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset Slot = new(2031, 3, 4, 3, 0, 0, TimeSpan.Zero);

    private BackupSite(ProxmoxHarness pve, JumpingClock clock, string data)
    {
        Pve = pve;
        Clock = clock;
        Data = data;
    }

    public ProxmoxHarness Pve { get; }
    public JumpingClock Clock { get; }
    public string Data { get; }
    public ProvisionerApp App { get; private set; } = null!;
    public HttpClient Client { get; private set; } = null!;
    public long ProjectId { get; private set; }
    private int CheckIntervalSeconds { get; init; } = 1;

    public static async Task<BackupSite> StartAsync(int keepLast = 7, IReadOnlyList<string>? nodes = null, int checkIntervalSeconds = 1)
    {
        var clock = new JumpingClock(BeforeSlot);
        var pve = await ProxmoxHarness.StartAsync(nodes: nodes, foreignGuests: true, time: clock);
        var site = new BackupSite(pve, clock, TempDirectory.Create("guest-backups")) { CheckIntervalSeconds = checkIntervalSeconds };
        await site.StartAppAsync();
        // The release the test's instances record (as if it had been built here).
        await site.App.Service<ReleaseRepository>().ActivateAsync("2026.06", "2026-05-30", null, [], clock.GetUtcNow(), CancellationToken.None);
        var created = await site.Client.PostAsJsonAsync("/api/projects", new
        {
            name = "Backed up",
            settings = new { backups = new { schedule = new { frequency = "daily", time = "03:00" }, storage = "local", retention = new { keepLast } } },
        });
        created.StatusCode.Should().Be(HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        site.ProjectId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        return site;
    }

    /// <summary>(Re)starts the orchestrator on the same data directory, clock and emulator; the scheduler looks every second unless told otherwise.</summary>
    public async Task StartAppAsync()
    {
        var settings = ProvisionerApp.ProxmoxSettings(Pve);
        settings["GuestBackups:CheckIntervalSeconds"] = CheckIntervalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        App = new ProvisionerApp(settings: settings, time: Clock, dataDirectory: Data);
        Client = await App.CreateClientAsync(Role.Operator);
    }

    /// <summary>Stops the orchestrator (its background work is cancelled where it stands, as a crash would leave it in the database).</summary>
    public async Task StopAppAsync()
    {
        Client.Dispose();
        await App.DisposeAsync();
    }

    /// <summary>An active instance of the project whose guest (LXC, in the product's pool) carries its ownership marker.</summary>
    public async Task<InstanceRow> AddActiveGuestAsync(int vmid, string type = "zwavejs")
    {
        var ct = CancellationToken.None;
        var instances = App.Service<InstanceRepository>();
        var project = (await instances.GetProjectAsync(ProjectId, ct))!;
        var (_, rows) = await instances.InsertDeployAsync(ProjectId, project.Slug, "instance", "2026.06", null, [new NewInstance(type, "lxc", ProxmoxHarness.LxcTemplate, "pve1", "2026.06")], ct);
        (await instances.TryReserveVmidAsync(rows[0].Id, vmid, ct)).Should().BeTrue();
        var row = (await instances.GetAsync(rows[0].Id, ct))!;
        Pve.Sim.AddGuest(new TemplateSeed(vmid, row.Hostname, SimGuestKind.Lxc, 4) { Pool = "ctrlable", Running = true, Description = GuestOwnership.Description(row), Node = "pve1" }, isTemplate: false);
        await App.Service<InstanceTransitions>().SetStateAsync(row.Id, InstanceStates.Active, "Running (test)", ct: ct);
        return (await instances.GetAsync(row.Id, ct))!;
    }

    public async Task<JsonElement> BackupsAsync() => await Client.GetFromJsonAsync<JsonElement>($"/api/projects/{ProjectId}/backups");

    /// <summary>Waits until the project's newest run has ended and returns it.</summary>
    public async Task<JsonElement> WaitForRunEndAsync(int runs = 1)
    {
        JsonElement last = default;
        await Eventually.TrueAsync(async () =>
        {
            var list = (await BackupsAsync()).GetProperty("runs").EnumerateArray().ToList();
            if (list.Count < runs || list[0].GetProperty("state").GetString() == "running")
            {
                return false;
            }

            last = list[0];
            return true;
        }, $"{runs} backup run(s) ended");
        return last;
    }

    public async Task<JsonElement> BackUpNowAsync(int runsBefore)
    {
        var response = await Client.PostAsync($"/api/projects/{ProjectId}/backups", null);
        response.StatusCode.Should().Be(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        return await WaitForRunEndAsync(runsBefore + 1);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAppAsync();
        await Pve.DisposeAsync();
        TempDirectory.TryDelete(Data);
    }
}
