using System.Globalization;
using Ctrlable.PveSim.Auth;
using Ctrlable.PveSim.Cluster;
using Ctrlable.PveSim.Guests;
using Ctrlable.PveSim.Hosting;
using Ctrlable.PveSim.Schema;

namespace Ctrlable.PveSim.Seeding;

/// <summary>Applies a <see cref="SeedSpec"/> to the state, writing configs the way Proxmox would have them.</summary>
internal static class Seeder
{
    public static void DefaultStorages(SimState state)
    {
        state.AddStorage("local", "dir", "iso,vztmpl,backup,snippets,import", totalBytes: 100L << 30);
        state.AddStorage("local-lvm", "lvmthin", "rootdir,images", totalBytes: 800L << 30);
    }

    public static SeedResult Apply(SimContext sim, SeedSpec spec)
    {
        var state = sim.State;
        var tokens = new List<ApiTokenCredentials>();
        lock (state.Sync)
        {
            if (spec.Storages is { } storages)
            {
                state.Storages.Clear();
                foreach (var s in storages)
                {
                    state.AddStorage(s.Id, s.Type, s.Content, s.Shared, s.TotalGiB << 30, s.Nodes);
                }
            }

            foreach (var role in spec.Roles)
            {
                state.Access.AddRole(role.RoleId, role.Privileges);
            }

            foreach (var pool in spec.Pools)
            {
                var p = state.Access.AddPool(pool.PoolId, pool.Comment);
                foreach (var storage in pool.Storages ?? [])
                {
                    p.Storages.Add(storage);
                }
            }

            foreach (var user in spec.Users)
            {
                state.Access.AddUser(user.UserId);
                foreach (var token in user.Tokens ?? [])
                {
                    tokens.Add(state.Access.AddToken(user.UserId, token.Name, token.Privsep, token.Secret));
                }
            }

            foreach (var acl in spec.Acls)
            {
                var subject = acl.Subject.StartsWith('@')
                    ? AclSubject.Group(acl.Subject[1..])
                    : acl.Subject.Contains('!') ? AclSubject.Token(acl.Subject) : AclSubject.User(acl.Subject);
                state.Access.SetAcl(acl.Path, subject, acl.Role, acl.Propagate);
            }

            foreach (var template in spec.Templates)
            {
                AddGuest(sim, template, isTemplate: true);
            }

            foreach (var guest in spec.Guests)
            {
                AddGuest(sim, guest, isTemplate: false);
            }
        }

        return new SeedResult(tokens);
    }

    /// <summary>Creates a guest with a Proxmox-like config; templates get base- volumes as after "convert to template".</summary>
    public static SimGuest AddGuest(SimContext sim, TemplateSeed seed, bool isTemplate)
    {
        var state = sim.State;
        var node = seed.Node ?? state.Nodes.Keys.First();
        if (!state.Nodes.ContainsKey(node))
        {
            throw new ArgumentException($"no such node '{node}'", nameof(seed));
        }

        if (state.Guests.ContainsKey(seed.Vmid))
        {
            throw new ArgumentException($"VMID {seed.Vmid} already exists", nameof(seed));
        }

        var storage = state.Storages.GetValueOrDefault(seed.Storage)
            ?? throw new ArgumentException($"no such storage '{seed.Storage}'", nameof(seed));
        var guest = new SimGuest(seed.Vmid, seed.Kind, node, sim.Clock.Now - TimeSpan.FromDays(1)) { HomeAssistantCoreOnDisk = seed.HomeAssistantCoreOnDisk };
        var prefix = isTemplate ? "base" : "vm";
        var volume = Volumes.New(storage, seed.Kind, seed.Vmid, 0).Replace("vm-", prefix + "-", StringComparison.Ordinal)
            .Replace("subvol-", isTemplate ? "basevol-" : "subvol-", StringComparison.Ordinal);
        var size = Formats.FormatSize((long)seed.DiskGiB << 30);
        var tags = seed.Tags.Concat(seed.FirstBoot ? [FirstBootMarker.Tag] : []).Distinct().ToList();
        var c = guest.Config;
        c["cores"] = seed.Cores.ToString(CultureInfo.InvariantCulture);
        c["memory"] = seed.MemoryMiB.ToString(CultureInfo.InvariantCulture);
        if (seed.Kind == GuestKind.Lxc)
        {
            c["arch"] = "amd64";
            c["hostname"] = seed.Name;
            c["net0"] = $"name=eth0,bridge={seed.Bridge},hwaddr={MacAddress.Random(state.MacPrefix)},ip=dhcp,type=veth";
            c["ostype"] = "debian";
            c["rootfs"] = $"{volume},size={size}";
            c["swap"] = "512";
            c["unprivileged"] = seed.Unprivileged ? "1" : "0";
            c["features"] = "nesting=1";
            c["onboot"] = "0";
        }
        else
        {
            c["name"] = seed.Name;
            c["agent"] = "1";
            c["bios"] = "ovmf";
            c["boot"] = "order=scsi0";
            c["machine"] = "q35";
            c["net0"] = $"virtio={MacAddress.Random(state.MacPrefix)},bridge={seed.Bridge}";
            c["ostype"] = "l26";
            c["scsi0"] = $"{volume},discard=on,size={size},ssd=1";
            c["scsihw"] = "virtio-scsi-pci";
            c["smbios1"] = $"uuid={Guid.NewGuid()}";
            c["sockets"] = "1";
            c["vmgenid"] = Guid.NewGuid().ToString();
        }

        if (tags.Count > 0)
        {
            c["tags"] = string.Join(';', tags);
        }

        if (seed.Description is not null)
        {
            c["description"] = seed.Description;
        }

        if (isTemplate)
        {
            c["template"] = "1";
        }

        state.Guests[seed.Vmid] = guest;
        if (seed.Pool is not null)
        {
            var pool = state.Access.Pools.GetValueOrDefault(seed.Pool) ?? state.Access.AddPool(seed.Pool);
            pool.Vms.Add(seed.Vmid);
        }

        if (seed.Running && !isTemplate)
        {
            GuestRuntime.Started(sim, guest);
        }

        return guest;
    }
}
