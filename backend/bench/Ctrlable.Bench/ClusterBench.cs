using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Deploy;
using Ctrlable.Provisioner.State;
using Ctrlable.PveSim;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Hosting;
using Ctrlable.PveSim.Seeding;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using SimGuestKind = Ctrlable.PveSim.Guests.GuestKind;

namespace Ctrlable.Bench;

/// <summary>
/// Issue #21 "Scale": the orchestrator against an emulated 3-node cluster (pve, pve2, pve3; the release's templates on
/// pve's shared Ceph RBD storage, as demo mode's cluster has them) holding N projects × M guests spread over the nodes
/// (project i pinned to node i mod 3), seeded in the emulator and in the orchestrator's own state.
/// (a) Dashboard: viewers in the load generator's own process; the Proxmox request rate per dashboard interval (from the
/// emulator's own counter) should not grow with them. (b) Deploy: three more projects pinned to pve, pve2 and pve3 each
/// deploy the 5-LXC stack of the deploy benchmark's scenario (a) at the same moment; wall time ÷ the Proxmox critical path
/// of all three from the emulator's task log (clones of one LXC template serialise across the three deploys: Proxmox
/// locks the template while it is cloned).
/// </summary>
internal static class ClusterBench
{
    private static readonly string[] Nodes = ["pve", "pve2", "pve3"];

    /// <summary>A site's six guests: Home Assistant (a VM) and the five LXC types (the 5-LXC stack of <see cref="DeployBench"/>).</summary>
    private static readonly (string Type, SimGuestKind Kind, int Vmid)[] SiteTypes =
    [
        ("ctrlable-pro", SimGuestKind.Qemu, 9000), ("zwavejs", SimGuestKind.Lxc, 9001), ("zigbee2mqtt", SimGuestKind.Lxc, 9002),
        ("docker-portainer", SimGuestKind.Lxc, 9003), ("frigate", SimGuestKind.Lxc, 9004), ("freepbx", SimGuestKind.Lxc, 9005),
    ];

    private static readonly string[] LxcStack = [.. SiteTypes.Where(t => t.Kind == SimGuestKind.Lxc).Select(t => t.Type)];

    private const string Release = "2026.06";

    private const string SharedStorage = "ceph";

    // As the dashboard benchmark: viewers refresh every 250 ms (a browser every 5 s) to stress the sharing.
    private static readonly TimeSpan ThinkTime = TimeSpan.FromMilliseconds(250);

    public static async Task<int> RunAsync(int projects, int guestsPerProject, int[] viewerCounts, TimeSpan duration, double timingScale, bool json)
    {
        if (projects < 1 || guestsPerProject is < 1 or > 6 || viewerCounts.Length == 0 || viewerCounts.Any(v => v < 1))
        {
            await Console.Error.WriteLineAsync("cluster: --projects must be at least 1, --guests 1 to 6, --viewers a list of counts of at least 1");
            return 2;
        }

        await using var sim = await PveSimulator.StartAsync(new PveSimOptions
        {
            Version = PveVersion.V9_1,
            Nodes = Nodes,
            TimingScale = timingScale,
            RandomSeed = 21,
            // 300 running guests need more addresses than the default /24 (all of 127.0.0.0/8 is loopback).
            IpAllocator = new SequentialIpAllocator("127.0.8.0/21", 10),
        });
        var token = sim.Seed(HostSeed()).Tokens[0];
        var dashboardSeconds = 3.0;
        using var orchestrator = new Orchestrator(OrchestratorSettings(sim, token, dashboardSeconds));
        using var client = await orchestrator.StartAsync(Role.Operator);
        var seeded = await SeedSitesAsync(orchestrator, client, sim, projects, guestsPerProject);
        var grouping = await CheckDashboardAsync(client, projects, guestsPerProject);
        if (grouping is not null)
        {
            await Console.Error.WriteLineAsync("cluster: " + grouping);
            return 1;
        }

        if (!json)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"cluster benchmark: nodes {string.Join(", ", Nodes)}; {projects} projects × {guestsPerProject} guests ({seeded} guests and 2 foreign ones); dashboard interval {dashboardSeconds} s, viewers refresh every {ThinkTime.TotalMilliseconds:0} ms for {duration.TotalSeconds:0} s (load generator in its own process)"));
            Console.WriteLine("| viewers | dashboard req/s | p50 ms | p99 ms | Proxmox req/s | Proxmox requests per dashboard interval | load average |");
            Console.WriteLine("|---:|---:|---:|---:|---:|---:|---|");
        }

        var rows = new JsonArray();
        var rates = new List<double>();
        var auth = client.DefaultRequestHeaders.Authorization!;
        foreach (var n in viewerCounts)
        {
            var loadBefore = LoadAverage();
            var r = await ViewerLoad.RunAsync(client.BaseAddress!, $"{auth.Scheme} {auth.Parameter}", ["api/dashboard"], n, duration, ThinkTime, null, () => sim.RequestCount);
            var load = new JsonArray(loadBefore, LoadAverage());
            var perSecond = r.ProxmoxRequests / r.Seconds;
            rates.Add(perSecond);
            if (!json)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {n} | {r.Requests / r.Seconds:0.0} | {r.P50:0.0} | {r.P99:0.0} | {perSecond:0.00} | {perSecond * dashboardSeconds:0.00} | {load[0]}–{load[1]} |"));
            }

            rows.Add(new JsonObject
            {
                ["viewers"] = n,
                ["mode"] = "orchestrator (shared poll)",
                ["requestsPerSecond"] = Math.Round(r.Requests / r.Seconds, 1),
                ["p50Ms"] = Math.Round(r.P50, 2),
                ["p99Ms"] = Math.Round(r.P99, 2),
                ["proxmoxRequestsPerSecond"] = Math.Round(perSecond, 2),
                ["proxmoxRequestsPerInterval"] = Math.Round(perSecond * dashboardSeconds, 2),
                ["loadAverage"] = load,
            });
        }

        // No Proxmox request at all in the first row (a window shorter than the dashboard interval): no ratio.
        double? flat = rates[0] > 0 ? rates[^1] / rates[0] : null;
        var guestsPerNode = new JsonObject();
        lock (sim.State.Sync)
        {
            foreach (var n in Nodes)
            {
                guestsPerNode[n] = sim.State.Guests.Values.Count(g => g.Node == n && !g.IsTemplate);
            }
        }

        var deploy = await DeployAsync(sim, client, orchestrator, timingScale);
        var foreignIntact = ForeignGuestsIntact(sim);
        var result = new JsonObject
        {
            ["nodes"] = new JsonArray([.. Nodes.Select(n => JsonValue.Create(n))]),
            ["projects"] = projects,
            ["guestsPerProject"] = guestsPerProject,
            ["guests"] = seeded,
            ["guestsPerNode"] = guestsPerNode,
            ["dashboard"] = new JsonObject
            {
                ["seconds"] = duration.TotalSeconds,
                ["thinkMs"] = ThinkTime.TotalMilliseconds,
                ["intervalSeconds"] = dashboardSeconds,
                ["rows"] = rows,
                ["proxmoxRateMostOverFewestViewers"] = flat is { } f ? Math.Round(f, 3) : null,
            },
            ["deploy"] = deploy,
            ["foreignGuestsUntouched"] = foreignIntact,
        };
        if (json)
        {
            Console.WriteLine(result.ToJsonString());
        }
        else
        {
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Proxmox req/s with {viewerCounts[^1]} viewers ÷ with {viewerCounts[0]}: {flat?.ToString("0.00", CultureInfo.InvariantCulture) ?? "–"} (flat = 1.00)"));
            Console.WriteLine();
            Console.WriteLine(deploy.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        }

        return foreignIntact && deploy["placedAsPinned"]!.GetValue<bool>() ? 0 : 1;
    }

    /// <summary>As the other benchmarks configure it, plus the emulated apps' ports, so the dashboard's health probes reach them.</summary>
    private static Dictionary<string, string?> OrchestratorSettings(PveSimulator sim, Ctrlable.PveSim.Auth.ApiTokenCredentials token, double dashboardSeconds) => new Dictionary<string, string?>
    {
        ["Proxmox:Url"] = sim.BaseAddress.ToString(),
        ["Proxmox:TokenId"] = token.TokenId,
        ["Proxmox:TokenSecret"] = token.Secret,
        ["Proxmox:CertificateFingerprint"] = sim.CertificateFingerprint,
        ["Dashboard:CacheSeconds"] = dashboardSeconds.ToString(CultureInfo.InvariantCulture),
        // Following DHCP leases reads each active guest's interfaces once a minute (300 requests a round here), whatever
        // the viewers: off, so a round falling into one viewer count's window does not make the rows incomparable.
        ["Addressing:FollowIntervalSeconds"] = "0",
        ["Logging:LogLevel:Default"] = "Warning",
        // The secret comes through configuration here on purpose; its "now stored encrypted" warning is noise in the results.
        ["Logging:LogLevel:Ctrlable.Provisioner.Settings.ProxmoxSettingsService"] = "Error",
        // HTTPS for the guests' first-boot assignments, HTTP for the benchmark's client.
        ["Urls"] = "https://127.0.0.1:0;http://127.0.0.1:0",
    }.Concat((sim.AppPorts ?? new Dictionary<string, int>()).Select(a => KeyValuePair.Create($"Dashboard:AppPorts:{a.Key}", (string?)a.Value.ToString(CultureInfo.InvariantCulture))))
        .ToDictionary();

    /// <summary>Three nodes, a shared RBD storage on each, the product's pools and token, the release's templates on pve's RBD, two foreign guests.</summary>
    private static SeedSpec HostSeed()
    {
        var access = LeastPrivilege.Spec(PveVersion.V9_1, tokenSecret: "00000000-0000-4000-8000-000000000021");
        var tokenId = access.Users[0].UserId + "!" + access.Users[0].Tokens![0].Name;
        return access with
        {
            Storages =
            [
                new StorageSeed("local", "dir", "iso,vztmpl,backup,snippets,import"),
                new StorageSeed("local-lvm", "lvmthin", "rootdir,images"),
                new StorageSeed(SharedStorage, "rbd", "rootdir,images", Shared: true, TotalGiB: 8192),
            ],
            Acls = [.. access.Acls, .. new[] { access.Users[0].UserId, tokenId }.Select(s => new AclSeed($"/storage/{SharedStorage}", s, LeastPrivilege.RoleId))],
            Templates = [.. SiteTypes.Select(t => new TemplateSeed(t.Vmid, t.Type, t.Kind, 8, FirstBoot: t.Kind == SimGuestKind.Lxc)
            {
                Node = Nodes[0],
                Storage = SharedStorage,
                Pool = "ctrlable-templates",
            })],
            // Another admin's guests on the cluster: shown among "other guests", never touched.
            Guests = [.. ForeignVmids.Select((vmid, i) => new TemplateSeed(vmid, $"admin-{vmid}", SimGuestKind.Lxc, 8) { Node = Nodes[(i + 1) % Nodes.Length], Running = true })],
        };
    }

    private static readonly int[] ForeignVmids = [100, 999];

    private static bool ForeignGuestsIntact(PveSimulator sim)
    {
        lock (sim.State.Sync)
        {
            return ForeignVmids.All(v => sim.State.Guest(v) is { Running: true } g && g.Name == $"admin-{v}");
        }
    }

    /// <summary>
    /// N projects pinned round-robin to the nodes, each with M active instances whose guests run on its node: the
    /// projects through the API, the instances through the orchestrator's repository (hostnames, ownership markers) and
    /// then marked active with their guest's VMID, node, MAC and address, as a finished deploy leaves them; the guests
    /// in the emulator with the instance's marker and tags (so their apps answer the dashboard's health probes).
    /// </summary>
    private static async Task<int> SeedSitesAsync(Orchestrator orchestrator, HttpClient client, PveSimulator sim, int projects, int guestsPerProject)
    {
        var services = orchestrator.Services;
        var now = DateTimeOffset.UtcNow;
        await services.GetRequiredService<ReleaseRepository>().ActivateAsync(Release, "2026-05-30", null,
            [.. SiteTypes.Select(t => new TemplateRow(0, Release, t.Type, t.Kind == SimGuestKind.Lxc ? "lxc" : "vm", t.Vmid, Nodes[0], "2026-05-30", null, null, now))], now, CancellationToken.None);
        await services.GetRequiredService<Ctrlable.Provisioner.Provision.ReleaseSecrets>().GetOrIssueAsync(Release, CancellationToken.None);
        var repository = services.GetRequiredService<InstanceRepository>();
        var database = services.GetRequiredService<Database>();
        var vmid = 1000;
        const string activate = """
            UPDATE instances SET vmid = @vmid, node = @node, mac = @mac, ip = @ip, clone_mode = 'linked', state = 'active', message = 'Active', updated_at = @now WHERE id = @id;
            """;
        await using var connection = await database.OpenAsync();
        for (var p = 0; p < projects; p++)
        {
            var node = Nodes[p % Nodes.Length];
            var projectId = await CreateProjectAsync(client, $"Site {p + 1:000}", node);
            var project = (await repository.GetProjectAsync(projectId, CancellationToken.None))!;
            var (_, created) = await repository.InsertDeployAsync(projectId, project.Slug, "stack", Release, "bench",
                [.. SiteTypes.Take(guestsPerProject).Select(t => new NewInstance(t.Type, t.Kind == SimGuestKind.Lxc ? "lxc" : "vm", t.Vmid, Nodes[0], Release))], CancellationToken.None);
            foreach (var instance in created)
            {
                var guest = sim.AddGuest(new TemplateSeed(vmid, instance.Hostname, instance.Kind == "vm" ? SimGuestKind.Qemu : SimGuestKind.Lxc, 8)
                {
                    Node = node,
                    Storage = SharedStorage,
                    Pool = "ctrlable",
                    Running = true,
                    Description = GuestOwnership.Description(instance),
                    Tags = ["ctrlable", instance.Type, $"release-{Release}"],
                }, isTemplate: false);
                string? mac, ip;
                lock (sim.State.Sync)
                {
                    mac = NetConfig.MacOf(guest.Config["net0"]);
                    ip = guest.Address?.ToString();
                }

                await connection.ExecuteAsync(activate, new { id = instance.Id, vmid, node, mac, ip, now });
                vmid++;
            }
        }

        return vmid - 1000;
    }

    private static async Task<long> CreateProjectAsync(HttpClient client, string name, string node)
    {
        var response = await client.PostAsJsonAsync("/api/projects", new { name, settings = new { zigbee = new { host = "192.168.1.50" }, zwave = new { host = "192.168.1.51", port = 3333 }, node } });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
    }

    /// <summary>Null when the dashboard shows every node online and every project's guests grouped on its node; else what is wrong.</summary>
    private static async Task<string?> CheckDashboardAsync(HttpClient client, int projects, int guestsPerProject)
    {
        var dashboard = await client.GetFromJsonAsync<JsonElement>("/api/dashboard");
        var nodes = dashboard.GetProperty("nodes").EnumerateArray().Select(n => (Node: n.GetProperty("node").GetString(), Status: n.GetProperty("status").GetString())).ToList();
        if (!nodes.Select(n => n.Node).SequenceEqual(Nodes) || nodes.Any(n => n.Status != "online"))
        {
            return "the dashboard's nodes are " + string.Join(", ", nodes.Select(n => $"{n.Node} {n.Status}"));
        }

        var groups = dashboard.GetProperty("projects").EnumerateArray().ToList();
        var wrong = groups.Where((g, i) =>
        {
            var guests = g.GetProperty("guests").EnumerateArray().ToList();
            return guests.Count != guestsPerProject || guests.Any(c => c.GetProperty("status").GetString() != "running")
                || guests.Select(c => c.GetProperty("node").GetString()).Distinct().Count() != 1;
        }).Select(g => g.GetProperty("name").GetString()).ToList();
        return groups.Count != projects || wrong.Count > 0
            ? $"the dashboard groups {groups.Count} projects (expected {projects}); not {guestsPerProject} running guests on one node: {string.Join(", ", wrong.Take(5))}"
            : null;
    }

    /// <summary>
    /// Three projects pinned to pve, pve2 and pve3 deploy the 5-LXC stack at once (after a warm-up: one guest per node,
    /// which also pays the orchestrator's first look at every guest's MAC address). Wall time: from the three deploy
    /// requests until the last of the 15 instances is handed to its first boot (its commit of "waiting").
    /// </summary>
    private static async Task<JsonObject> DeployAsync(PveSimulator sim, HttpClient client, Orchestrator orchestrator, double timingScale)
    {
        var load = LoadAverage();
        var warmupFrom = sim.RequestCount;
        var warmups = await Task.WhenAll(Nodes.Select(n => CreateProjectAsync(client, $"Warm-up {n}", n)));
        await Task.WhenAll(warmups.Select(p => DeployBench.OrchestratorDeployAsync(client, p, ["freepbx"], stack: true, CancellationToken.None)));
        var warmupRequests = sim.RequestCount - warmupFrom;

        var pinned = await Task.WhenAll(Nodes.Select(n => CreateProjectAsync(client, $"Parallel {n}", n)));
        var requestLog = new DeployRequestLog(sim);
        var wall = new Stopwatch();
        var handedOver = new ConcurrentDictionary<long, double>();
        var ids = pinned.ToHashSet();
        using var changes = orchestrator.Services.GetRequiredService<InstanceChanges>().Subscribe(change =>
        {
            if (change.Instance is { } i && ids.Contains(i.ProjectId) && change.To is InstanceStates.Waiting or InstanceStates.Personalising or InstanceStates.Active)
            {
                handedOver.TryAdd(change.InstanceId, wall.Elapsed.TotalSeconds);
            }
        });
        var requestsBefore = sim.RequestCount;
        var measuredFrom = DateTimeOffset.UtcNow;
        requestLog.Start();
        wall.Start();
        await Task.WhenAll(pinned.Select(p => DeployBench.OrchestratorDeployAsync(client, p, LxcStack, stack: true, CancellationToken.None)));
        var expected = pinned.Length * LxcStack.Length;
        var seconds = handedOver.Count == expected ? handedOver.Values.Max() : wall.Elapsed.TotalSeconds;
        requestLog.Stop();
        var proxmoxRequests = sim.RequestCount - requestsBefore;
        var measured = sim.TaskLog.Where(t => t.Started >= measuredFrom).ToList();
        requestLog.WriteTasks(measured, measuredFrom);

        var critical = DeployBench.CriticalPathSeconds(measured);
        var taskSeconds = measured.Sum(t => ((t.Ended ?? DateTimeOffset.UtcNow) - t.Started).TotalSeconds);
        // Where wall time beyond the critical path goes: before the first clone task, and between one clone of a template
        // ending and the next clone of it starting (the orchestrator seeing the end, then asking for the next).
        var clones = measured.Where(t => t.Type == "vzclone").OrderBy(t => t.Started).ToList();
        var firstClone = clones.Count > 0 ? (clones[0].Started - measuredFrom).TotalSeconds : 0;
        var handoffs = clones.GroupBy(t => t.Id)
            .SelectMany(g => g.Zip(g.Skip(1), (a, b) => (b.Started - (a.Ended ?? a.Started)).TotalMilliseconds))
            .Order().ToList();

        // Placement: every guest of a pinned project runs on its project's node.
        var perNode = new JsonObject();
        var placed = true;
        for (var i = 0; i < pinned.Length; i++)
        {
            var instances = (await client.GetFromJsonAsync<JsonElement>($"/api/projects/{pinned[i]}")).GetProperty("instances").EnumerateArray().ToList();
            var vmids = instances.Select(x => x.GetProperty("vmid").GetInt32()).ToList();
            int onNode;
            lock (sim.State.Sync)
            {
                onNode = vmids.Count(v => sim.State.Guest(v)?.Node == Nodes[i]);
            }

            placed &= onNode == LxcStack.Length && instances.All(x => x.GetProperty("node").GetString() == Nodes[i]);
            perNode[Nodes[i]] = onNode;
        }

        return new JsonObject
        {
            ["stack"] = "the 5-LXC stack of deploy scenario (a), one project pinned to each node, deployed at once",
            ["timingScale"] = timingScale,
            ["wallSeconds"] = Math.Round(seconds, 3),
            ["criticalPathSeconds"] = Math.Round(critical, 3),
            ["ratio"] = Math.Round(seconds / critical, 4),
            ["proxmoxRequests"] = proxmoxRequests,
            ["taskPollRequests"] = requestLog.TaskRequests,
            ["taskSeconds"] = Math.Round(taskSeconds, 3),
            ["taskPollRequestsPerTaskSecond"] = Math.Round(taskSeconds > 0 ? requestLog.TaskRequests / taskSeconds : 0, 3),
            ["firstCloneTaskSeconds"] = Math.Round(firstClone, 3),
            ["templateHandoffP50Ms"] = Math.Round(Stats.Percentile(handoffs, 50), 1),
            ["templateHandoffMaxMs"] = handoffs.Count > 0 ? Math.Round(handoffs[^1], 1) : null,
            ["guestsOnPinnedNode"] = perNode,
            ["placedAsPinned"] = placed,
            ["warmupProxmoxRequests"] = warmupRequests,
            ["loadAverage"] = new JsonArray(load, LoadAverage()),
        };
    }

    /// <summary>The machine's 1-minute load average (/proc/loadavg; before and after each figure, in the results); null where there is none.</summary>
    private static double? LoadAverage() =>
        File.Exists("/proc/loadavg") && double.TryParse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture, out var l) ? l : null;
}
