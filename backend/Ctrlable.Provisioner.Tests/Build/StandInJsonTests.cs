using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Build;

/// <summary>
/// The Proxmox CLI stand-ins (host/testing/pvesim.sh) read the emulator's answers without starting jq for the shapes
/// a build asks for thousands of times (a task's UPID, its status and log, a guest's status and config, pvesh output):
/// each jq start cost more than the request on the CI machine. Whatever they read that way must be exactly what jq
/// prints, and any shape they cannot read for sure must still go to jq.
/// </summary>
public sealed class StandInJsonTests
{
    private const string Pvesh = """if type == "string" or type == "number" then . elif type == "null" then empty else tojson end""";
    private const string TaskState = "\"\\(.status) \\(.exitstatus // \"\")\"";

    /// <summary>Answers the stand-ins must read without jq: (option, filter, .data as the emulator sends it).</summary>
    private static readonly (string Option, string Filter, string Data)[] Quick =
    [
        ("-r", ".", "\"UPID:pve1:0000ABCD:00001234:65000000:vzcreate:9101:root@pam!admin:\""),
        ("-r", ".", "null"),
        ("-c", ".", """{"vmid":9101,"hostname":"zwavejs","tags":"community-script;ctrlable","template":1}"""),
        ("-c", ".", "null"),
        ("-r", Pvesh, "\"9102\""),
        ("-r", Pvesh, "null"),
        ("-r", Pvesh, "100"),
        ("-r", Pvesh, """[{"vmid":100,"type":"lxc","status":"running"},{"vmid":9100,"type":"qemu","template":1}]"""),
        ("-r", Pvesh, """{"net0":"name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01","template":0}"""),
        ("-r", ".status", """{"status":"running","ha":{"managed":0},"qmpstatus":"running","vmid":9101,"uptime":12}"""),
        ("-r", ".status", """{"vmid":9101,"status":"stopped"}"""),
        ("-r", TaskState, """{"upid":"UPID:pve1:1:2:3:vzstart:9101:root@pam:","status":"stopped","exitstatus":"OK","pid":1}"""),
        ("-r", TaskState, """{"upid":"UPID:x","status":"running","pid":1}"""),
        ("-r", TaskState, """{"status":"stopped","exitstatus":"command 'lxc-start -n 9101' failed: exit code 1"}"""),
        ("-r", TaskState, """{"status":"stopped","exitstatus":null}"""),
        ("-r", ".[].t", """[{"n":1,"t":"extracting archive"},{"n":2,"t":""},{"n":3,"t":"TASK OK"}]"""),
        ("-r", ".[].t", "[]"),
    ];

    /// <summary>Answers only jq reads right: escapes, a key that also occurs in a nested object, other filters.</summary>
    private static readonly (string Option, string Filter, string Data)[] ToJq =
    [
        ("-r", ".", "\"a \\\"quoted\\\" UPID\""),
        ("-r", ".", """{"status":"running"}"""),
        ("-c", ".", """{"description":"line\nnext"}"""),
        ("-r", Pvesh, "\"tab\\there\""),
        ("-r", ".status", """{"ha":{"status":"error"},"status":"running"}"""),
        ("-r", ".status", """{"status":{"nested":1}}"""),
        ("-r", TaskState, """{"status":"stopped","exitstatus":"say \"no\""}"""),
        ("-r", ".[].t", """[{"n":1,"t":"a \"quoted\" line"}]"""),
        ("-r", ".[].t", """[{"t":"keys in another order","n":1}]"""),
        ("-r", ".[] | .vmid", """[{"vmid":100}]"""),
    ];

    [Fact]
    public async Task The_stand_ins_read_the_common_answers_without_jq_exactly_as_jq_would_and_leave_the_rest_to_jq()
    {
        var results = await RunAsync([.. Quick, .. ToJq]);

        results.Should().AllSatisfy(r => r.Same.Should().BeTrue($"{r.Case} must print what jq prints"));
        results.Take(Quick.Length).Where(r => !r.Quick).Select(r => r.Case).Should().BeEmpty("these shapes are read without jq");
        results.Skip(Quick.Length).Where(r => r.Quick).Select(r => r.Case).Should().BeEmpty("these shapes need jq");
    }

    private static async Task<List<(string Case, bool Quick, bool Same)>> RunAsync((string Option, string Filter, string Data)[] cases)
    {
        var dir = TempDirectory.Create("stand-in-json");
        try
        {
            var env = Path.Combine(dir, "pvesim.env");
            await File.WriteAllTextAsync(env, "PVESIM_URL=https://127.0.0.1:1/api2/json/\nPVESIM_TOKEN=root@pam!admin=x\nPVESIM_NODE=pve1\nPVESIM_CT_ROOT=/nonexistent\n");
            var input = Path.Combine(dir, "cases.tsv");
            await File.WriteAllLinesAsync(input, cases.Select(c => $"{c.Option}\t{c.Filter}\t{c.Data}"));
            // Per case: "quick" or "jq" (did quick_filter answer?), then whether its answer is jq's.
            var script = Path.Combine(dir, "compare.sh");
            await File.WriteAllTextAsync(script, $$"""
                set -uo pipefail
                shopt -s extglob
                PVESIM_ENV='{{env}}'
                source '{{Path.Combine(RepoPaths.Root, "host", "testing", "pvesim.sh")}}'
                set +e
                while IFS=$'\t' read -r option filter data; do
                  want=$(jq "$option" "$filter" <<<"$data")
                  if got=$(quick_filter "$option" "$filter" "$data"); then
                    [[ $got == "$want" ]] && echo "quick same" || echo "quick differs"
                  else
                    [[ -z $got ]] && echo "jq same" || echo "jq differs"
                  fi
                done <'{{input}}'
                """);
            var lines = (await SshServer.Run("bash", script)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            lines.Should().HaveCount(cases.Length);
            return [.. cases.Zip(lines, (c, l) => ($"[{c.Option} {c.Filter}] {c.Data}", l.StartsWith("quick", StringComparison.Ordinal), l.EndsWith("same", StringComparison.Ordinal)))];
        }
        finally
        {
            TempDirectory.TryDelete(dir);
        }
    }
}
