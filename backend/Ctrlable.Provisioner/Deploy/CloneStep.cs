using System.Collections.Concurrent;
using System.Net;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Projects;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Deploy;

/// <summary>
/// Steps 1-3 of <see cref="DeployPipeline"/>: a VMID, the clone, its task. After a restart a clone that exists is adopted
/// when it carries the instance's marker (<see cref="GuestOwnership"/>); a VMID someone else took is given up.
/// </summary>
public sealed class CloneStep(
    InstanceRepository instances,
    ProxmoxClient proxmox,
    ProxmoxTasks tasks,
    GuestTasks guests,
    VmidAllocator vmids,
    ClusterLook look,
    GuestOwnership ownership,
    InstanceSteps steps,
    IOptions<ProxmoxOptions> proxmoxOptions,
    ILogger<CloneStep> logger)
{
    /// <summary>Proxmox puts <c>lock: disk</c> on an LXC template while it is cloned: clones of one template run one at a time.</summary>
    private readonly ConcurrentDictionary<long, TemplateQueue> _templates = new();

    public async Task CloneAsync(InstanceRow instance, CancellationToken ct)
    {
        var kind = GuestOwnership.KindOf(instance);
        while (true)
        {
            instance = (await instances.GetAsync(instance.Id, ct))!;
            var resumed = instance.Vmid is not null;
            var allocating = instance.Vmid is { } held ? Task.FromResult<long?>(held) : vmids.AllocateAsync(instance, ct);
            // Where and how to clone needs no VMID: a fresh clone's plan is asked for while its VMID is chosen (both end,
            // and both errors are seen, before going on).
            var planning = resumed ? null : ClonePlanAsync(instance, ct);
            if (planning is not null)
            {
                await Task.WhenAll(allocating, planning);
            }

            var vmid = await allocating;
            if (vmid is null)
            {
                continue;
            }

            await steps.PointAsync(instance.Id, DeployPipeline.VmidReserved, ct);

            // The clone may already exist: the orchestrator stopped after asking Proxmox for it. (A VMID allocated just
            // now was found free by Proxmox itself; a race for it ends in "already exists" below.)
            if (resumed && await guests.FindSettledGuestAsync(vmid.Value, kind, instance.Node, instance.TemplateVmid, ct) is { } existing)
            {
                if (await ownership.IsOursAsync(existing, instance, ct))
                {
                    await steps.MoveAsync(instance, InstanceStates.Configuring, "Cloned (found after a restart)", ct: ct);
                    return;
                }

                // Someone else's guest took the VMID after we reserved it: left alone; pick another.
                logger.LogWarning("Instance {Instance} ({Hostname}): {Reason} Choosing another VMID.", instance.Id, instance.Hostname, GuestOwnership.NotOurs(vmid.Value));
                await vmids.ReleaseAsync(instance, ct);
                continue;
            }

            // The node is recorded before the clone is asked for: a restart finds the guest where it was meant to go.
            var plan = await (planning ?? ClonePlanAsync(instance, ct));
            var (node, linked, storage) = (plan.Node, plan.Linked, plan.Storage);
            await instances.SetCloneAsync(instance.Id, node, linked ? "linked" : "full", ct);

            // Only the clone itself holds the template: everything before and after runs in parallel. A clone queued here
            // has its plan and VMID: its request leaves as soon as the clone before it is seen ended.
            var turn = kind == GuestKind.Lxc ? await TurnAsync(instance, ct) : null;

            try
            {
                await steps.MoveAsync(instance, InstanceStates.Cloning, linked ? "Cloning (linked clone)" : "Cloning (full copy: this takes minutes)", ct: ct);
                string upid;
                try
                {
                    upid = await proxmox.CloneAsync(plan.TemplateNode, kind, (int)instance.TemplateVmid!.Value, new CloneRequest(
                        (int)vmid.Value, instance.Hostname, GuestOwnership.Description(instance), proxmoxOptions.Value.Pool, Full: linked ? null : true, Storage: storage,
                        Target: node == plan.TemplateNode ? null : node), ct);
                }
                catch (ProxmoxException ex) when (ex.IsAlreadyExists)
                {
                    // Our own earlier request may have created it (its answer lost in a restart): adopt it.
                    if (await guests.FindSettledGuestAsync(vmid.Value, kind, node, instance.TemplateVmid, ct) is { } ours && await ownership.IsOursAsync(ours, instance, ct))
                    {
                        await steps.MoveAsync(instance, InstanceStates.Configuring, "Cloned (found after a restart)", ct: ct);
                        return;
                    }

                    // A VMID race with something outside the orchestrator: re-allocate, never fail the deploy.
                    logger.LogInformation("VMID {Vmid} was taken meanwhile; choosing another for {Hostname}", vmid, instance.Hostname);
                    await vmids.ReleaseAsync(instance, ct);
                    continue;
                }

                await steps.PointAsync(instance.Id, DeployPipeline.CloneRequested, ct);
                instance = (await instances.GetAsync(instance.Id, ct))!;
                await steps.MoveAsync(instance, InstanceStates.Cloning, instance.Message ?? "Cloning", upid: upid, ct: ct);
                await WaitCloneTaskAsync(instance with { Upid = upid, Node = node }, turn, ct);
                return;
            }
            finally
            {
                turn?.Release();
            }
        }
    }

    public async Task FinishCloneAsync(InstanceRow instance, CancellationToken ct)
    {
        var kind = GuestOwnership.KindOf(instance);
        var turn = kind == GuestKind.Lxc ? await TurnAsync(instance, ct, sayWaiting: false) : null;
        try
        {
            if (instance.Upid is not null)
            {
                await WaitCloneTaskAsync(instance, turn, ct);
                return;
            }

            // Stopped between asking for the clone and recording its task: look at what Proxmox holds.
            if (instance.Vmid is { } vmid && await guests.FindSettledGuestAsync(vmid, kind, instance.Node, instance.TemplateVmid, ct) is { } existing && await ownership.IsOursAsync(existing, instance, ct))
            {
                await steps.MoveAsync(instance, InstanceStates.Configuring, "Cloned", ct: ct);
            }
            else
            {
                await steps.MoveAsync(instance, InstanceStates.Pending, "Clone not found after a restart; cloning again", ct: ct);
            }
        }
        finally
        {
            turn?.Release();
        }
    }

    /// <summary>The instance's turn at its LXC template (waited for, as Pending, while another clone of it runs).</summary>
    private async Task<TemplateTurn> TurnAsync(InstanceRow instance, CancellationToken ct, bool sayWaiting = true)
    {
        var queue = _templates.GetOrAdd(instance.TemplateVmid!.Value, _ => new TemplateQueue());
        if (queue.TryEnter())
        {
            return new TemplateTurn(queue, waited: false);
        }

        if (sayWaiting)
        {
            await steps.MoveAsync(instance, InstanceStates.Pending, "Waiting for the template (one clone at a time)", ct: ct);
        }

        await queue.WaitAsync(tasks, ct);
        return new TemplateTurn(queue, waited: true);
    }

    private async Task WaitCloneTaskAsync(InstanceRow instance, TemplateTurn? turn, CancellationToken ct)
    {
        // The clone task runs on the template's node (a clone with target moves the guest to another at its end).
        var taskNode = ProxmoxTasks.NodeOf(instance.Upid!) ?? instance.Node!;
        turn?.Running(taskNode);
        var outcome = await tasks.WaitAsync(taskNode, instance.Upid!, guests.TaskTimeout, ct, turn?.Awaited);
        // The template is free once its clone ended (Proxmox removed its lock before the task ended): the next clone's
        // request leaves now, before this one's bookkeeping.
        turn?.Release();
        if (outcome.Succeeded)
        {
            await steps.MoveAsync(instance, InstanceStates.Configuring, "Cloned", ct: ct);
            return;
        }

        // Proxmox removes a failed clone's config itself; make sure nothing half-made stays behind. Whatever holds the
        // VMID by now (a restart may come much later) is destroyed only when it carries this instance's marker.
        var error = string.Join('\n', outcome.LogTail.DefaultIfEmpty(outcome.ExitStatus));
        if (instance.Vmid is { } vmid && await guests.FindGuestAsync(vmid, ct) is { } leftover)
        {
            await guests.WaitUntilUnlockedAsync(leftover.Node!, leftover.Kind ?? GuestOwnership.KindOf(instance), (int)vmid, ct);
            if (!await guests.DestroyIfOursAsync(instance, leftover, ct))
            {
                error += "\n" + GuestOwnership.NotOurs(vmid);
            }
        }

        await vmids.ReleaseAsync(instance, ct);
        await steps.MoveAsync(instance, InstanceStates.Failed, "Clone failed", error: error, ct: ct);
    }

    /// <summary>
    /// Where the clone goes and how (SPEC §7c "Placement"): the site's node, else the online node with the most free
    /// memory that can receive a clone of the template. Proxmox clones to another node (<c>target</c>) only when every
    /// volume of the template is on shared storage (qemu-server's <c>$check_storage_access_clone</c>, pve-container's
    /// clone_vm: "can't clone VM to node 'x' (VM uses local storage)"), so a template on local storage is cloned on its
    /// own node only. Linked when the template's storage supports it; a full clone to another node goes to the site's
    /// storage when that is shared and on the target, else to the template's (shared) storage.
    /// </summary>
    private async Task<ClonePlan> ClonePlanAsync(InstanceRow instance, CancellationToken ct)
    {
        var resources = await look.ResourcesAsync(ct);
        var template = resources.FirstOrDefault(r => r.Vmid == instance.TemplateVmid && r.Template == true)
            ?? throw new ProxmoxException(HttpStatusCode.NotFound, "GET", "/cluster/resources",
                $"Template {instance.TemplateVmid} ({instance.Type}) of release {instance.Release} is not on this Proxmox host. Build the release again.", new Dictionary<string, string>());
        var templateNode = template.Node!;
        var config = await proxmox.GetGuestConfigAsync(templateNode, GuestOwnership.KindOf(instance), (int)instance.TemplateVmid!.Value, ct);
        var disk = config.GetValueOrDefault("rootfs") ?? config.GetValueOrDefault("scsi0") ?? config.GetValueOrDefault("virtio0") ?? "";
        var storageId = disk.Split(':')[0];
        var storage = resources.FirstOrDefault(r => r.Type == "storage" && r.Node == templateNode && r.Storage == storageId);
        // Linked clones only from templates on storages that support them (lvmthin, zfspool, rbd, btrfs).
        var linked = storage?.Plugintype is "lvmthin" or "zfspool" or "zfs" or "rbd" or "btrfs";
        var site = await SiteSettings.OfProjectAsync(instances, instance.ProjectId, ct);
        var siteStorage = site.Storage ?? proxmoxOptions.Value.Storage;

        bool Reaches(string node) => node == templateNode
            || (storage?.Shared == true && resources.Any(r => r.Type == "storage" && r.Node == node && r.Storage == storageId && r.Status == "available"));
        var nodes = resources.Where(r => r.Type == "node" && r.Node is not null).ToList();
        string target;
        if (site.Node is { Length: > 0 } pinned)
        {
            var entry = nodes.FirstOrDefault(n => n.Node == pinned)
                ?? throw Refused($"The site's node {pinned} is not a node of this Proxmox cluster ({string.Join(", ", nodes.Select(n => n.Node))}).");
            if (entry.Status != "online")
            {
                throw Refused($"The site's node {pinned} is {entry.Status ?? "not online"}: its guests cannot be created until it is back.");
            }

            target = Reaches(pinned) ? pinned : throw Refused(
                $"Template {instance.TemplateVmid} ({instance.Type}) is on storage {storageId} of node {templateNode}, which is not shared with node {pinned}: "
                + $"Proxmox clones to another node only from shared storage. Build the release onto a shared storage, or set the site's node to {templateNode}.");
        }
        else
        {
            // The online node with the most free memory that can receive the clone; the template's node on a tie.
            target = nodes.Where(n => n.Status == "online" && Reaches(n.Node!))
                .OrderByDescending(n => (n.Maxmem ?? 0) - (n.Mem ?? 0))
                .ThenBy(n => n.Node == templateNode ? 0 : 1)
                .ThenBy(n => n.Node, StringComparer.Ordinal)
                .Select(n => n.Node!)
                .FirstOrDefault() ?? templateNode;
        }

        string? fullStorage = null;
        if (!linked)
        {
            var siteShared = resources.Any(r => r.Type == "storage" && r.Node == target && r.Storage == siteStorage && r.Shared == true);
            fullStorage = target == templateNode || siteShared ? siteStorage : storageId;
        }

        return new ClonePlan(templateNode, target, linked, fullStorage);
    }

    private static ProxmoxException Refused(string message) =>
        new(HttpStatusCode.Conflict, "GET", "/cluster/resources", message, new Dictionary<string, string>());

    private sealed record ClonePlan(string TemplateNode, string Node, bool Linked, string? Storage);

    /// <summary>
    /// One LXC template's clones in turn: who holds it, how many wait, and the node whose watcher looks for the end of
    /// the clone in flight (looked for finely while others wait: <see cref="ProxmoxTasks.WaitAsync"/>'s <c>awaited</c>).
    /// </summary>
    private sealed class TemplateQueue
    {
        private readonly SemaphoreSlim _gate = new(1, 1);
        private int _queued;
        private string? _runningOn;

        public bool HasQueued() => Volatile.Read(ref _queued) > 0;

        /// <summary>The template's turn at once, when no clone of it runs.</summary>
        public bool TryEnter() => _gate.Wait(0);

        public void Leave()
        {
            RunningOn = null;
            _gate.Release();
        }

        public string? RunningOn
        {
            get => Volatile.Read(ref _runningOn);
            set => Volatile.Write(ref _runningOn, value);
        }

        public async Task WaitAsync(ProxmoxTasks tasks, CancellationToken ct)
        {
            Interlocked.Increment(ref _queued);
            try
            {
                // The clone in flight is now awaited: its watcher plans its looks again.
                if (RunningOn is { } node)
                {
                    tasks.Replan(node);
                }

                await _gate.WaitAsync(ct);
            }
            finally
            {
                Interlocked.Decrement(ref _queued);
            }
        }
    }

    /// <summary>
    /// A held turn at a template, released once (when its clone is seen ended, or when the step leaves). Its clone's end
    /// is awaited (looked for finely) while others queue behind it, and when it waited its own turn: the last clone of a
    /// queue ends its chain, the longest path of deploys that share templates.
    /// </summary>
    private sealed class TemplateTurn(TemplateQueue queue, bool waited)
    {
        private int _released;

        public Func<bool> Awaited => () => waited || queue.HasQueued();

        public void Running(string taskNode) => queue.RunningOn = taskNode;

        public void Release()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                queue.Leave();
            }
        }
    }
}
