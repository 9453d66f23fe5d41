using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Ctrlable.PveSim.Auth;
using Ctrlable.PveSim.Seeding;

namespace Ctrlable.PveSim.Hosting;

/// <summary>Arguments of the standalone server.</summary>
internal sealed record CommandLine(PveSimOptions Simulator)
{
    public const string Usage = """
        Ctrlable PveSim - a Proxmox VE API emulator

          --port N             port of the first node (next nodes: N+1, ...); default 8006
          --nodes a,b          node names; default pve
          --version 8.2|9.1    emulated release; default 9.1
          --seed FILE          JSON seed (storages, pools, roles, users/tokens, ACLs, templates)
          --release FILE       release manifest (YAML); its templates are created, marked for first boot
          --snapshot FILE      state file: loaded if present, kept up to date, written on exit
          --timing-scale X     factor on all durations (0.1 = ten times faster); default 1
          --token-secret S     secret of the seeded ctrlable@pve!provisioner token; default random
          --listen ADDR        listen address; default 127.0.0.1
          --no-admin           do not serve /_sim/faults and /_sim/tasks
          --verbose            log requests
          --write-base-backup FILE ...   write a Home Assistant base backup and exit (--write-base-backup --help)

        Without --seed the least-privilege layout is seeded: role CtrlableProvisioner, user ctrlable@pve with
        token 'provisioner', pools ctrlable and ctrlable-templates, plus an admin token root@pam!admin.
        """;

    private static readonly JsonSerializerOptions SeedJson = new()
    {
        PropertyNameCaseInsensitive = true,
        Converters = { new JsonStringEnumConverter() },
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    public static CommandLine? Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg is "--help" or "-h")
            {
                return null;
            }

            if (arg is "--verbose" or "--no-admin")
            {
                values[arg[2..]] = "1";
                continue;
            }

            if (!arg.StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                Console.Error.WriteLine($"unexpected argument '{arg}'");
                return null;
            }

            values[arg[2..]] = args[++i];
        }

        var version = values.TryGetValue("version", out var v) ? PveVersionInfo.Parse(v) : PveVersion.V9_1;
        var nodes = values.TryGetValue("nodes", out var n) ? n.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : ["pve"];
        var seed = values.TryGetValue("seed", out var seedFile)
            ? JsonSerializer.Deserialize<SeedSpec>(File.ReadAllText(seedFile), SeedJson) ?? new SeedSpec()
            : DefaultSeed(version, values.GetValueOrDefault("token-secret"));
        if (values.TryGetValue("release", out var release))
        {
            var pool = seed.Pools.Any(p => p.PoolId == "ctrlable-templates") ? "ctrlable-templates" : null;
            seed = seed with { Templates = [.. seed.Templates, .. ReleaseManifest.Templates(File.ReadAllText(release), pool)] };
        }

        return new CommandLine(new PveSimOptions
        {
            Version = version,
            Nodes = nodes,
            Port = values.TryGetValue("port", out var port) ? int.Parse(port, CultureInfo.InvariantCulture) : 8006,
            ListenAddress = values.GetValueOrDefault("listen", "127.0.0.1"),
            TimingScale = values.TryGetValue("timing-scale", out var scale) ? double.Parse(scale, CultureInfo.InvariantCulture) : 1.0,
            SnapshotPath = values.GetValueOrDefault("snapshot"),
            Seed = seed,
            ConsoleLogging = values.ContainsKey("verbose"),
            AdminEndpoints = !values.ContainsKey("no-admin"),
        });
    }

    /// <summary>All tokens the emulator knows, so the operator can copy one.</summary>
    public IReadOnlyList<ApiTokenCredentials> SeedTokens(PveSimulator sim)
    {
        lock (sim.State.Sync)
        {
            return sim.State.Access.Users.Values
                .SelectMany(u => u.Tokens.Values.Select(t => new ApiTokenCredentials($"{u.UserId}!{t.Name}", t.Secret)))
                .ToList();
        }
    }

    private static SeedSpec DefaultSeed(PveVersion version, string? tokenSecret)
    {
        var spec = LeastPrivilege.Spec(version, tokenSecret: tokenSecret);
        return spec with
        {
            Users = [.. spec.Users, new UserSeed("root@pam", [new TokenSeed("admin", Privsep: false)])],
        };
    }
}
