using System.Diagnostics;

namespace Ctrlable.Provisioner.Tests.Infrastructure;

/// <summary>The tests' child processes cannot hang a test run: past the deadline they are killed and named.</summary>
public sealed class ChildProcessTests
{
    [Fact]
    public async Task A_child_that_does_not_exit_is_killed_at_the_deadline_and_named()
    {
        var start = new ProcessStartInfo("sh", ["-c", "echo started; exec sleep 600"]);

        var act = () => ChildProcess.RunAsync(start, limit: TimeSpan.FromSeconds(1));

        (await act.Should().ThrowAsync<TimeoutException>()).Which.Message.Should().Contain("sh -c echo started; exec sleep 600").And.Contain("killed");
    }

    [Fact]
    public async Task A_background_child_that_keeps_the_output_open_does_not_hang_the_test()
    {
        // The parent exits at once; a child it left behind holds its stdout, so reading to the end would wait for it.
        var pidFile = Path.Combine(TempDirectory.Create("child"), "pid");
        var start = new ProcessStartInfo("sh", ["-c", $"sleep 600 & echo $! > '{pidFile}'; exit 0"]);
        try
        {
            var act = () => ChildProcess.RunAsync(start, limit: TimeSpan.FromSeconds(1));

            await act.Should().ThrowAsync<TimeoutException>();
        }
        finally
        {
            if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid))
            {
                try
                {
                    using var orphan = Process.GetProcessById(pid);
                    orphan.Kill();
                }
                catch (ArgumentException)
                {
                    // Gone already.
                }
            }

            TempDirectory.TryDelete(Path.GetDirectoryName(pidFile)!);
        }
    }

    [Fact]
    public async Task Input_output_and_exit_code_come_back()
    {
        var run = await ChildProcess.RunAsync(new ProcessStartInfo("sh", ["-c", "read line; echo \"got $line\"; echo oops >&2; exit 3"]), stdin: "hello\n");

        run.Should().Be(new ChildRun(3, "got hello\n", "oops\n"));
    }
}
