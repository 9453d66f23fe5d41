using Ctrlable.Provisioner.Build;

namespace Ctrlable.Provisioner.Tests.Build;

/// <summary>
/// A host trigger that plays a script instead of reaching a host: it gets the command, the release and what the
/// orchestrator wrote to standard input (the ticket line), emits output lines and returns the exit code. The script can
/// call the wrapper endpoints with the ticket, as the real wrapper does.
/// </summary>
internal sealed class ScriptedHostTrigger : IHostTrigger
{
    public delegate Task<int> Script(HostCommand command, string release, string ticket, Func<string, Task> emit);

    public bool IsConfigured => true;

    public string Target => "root@scripted-host:22";

    public Script? Next { get; set; }

    public async Task<int> RunAsync(HostCommand command, string release, string input, Func<string, bool, Task> onLine, CancellationToken ct)
    {
        var script = Next ?? throw new InvalidOperationException("the test gave the scripted host nothing to run");
        input.Should().StartWith("ticket=ctb_").And.EndWith("\n");
        return await script(command, release, input["ticket=".Length..].TrimEnd('\n'), line => onLine(line, false));
    }
}
