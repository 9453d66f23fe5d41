using System.Diagnostics;

namespace Ctrlable.Provisioner.Tests.Infrastructure;

/// <summary>What a child process wrote and how it exited.</summary>
internal sealed record ChildRun(int ExitCode, string Stdout, string Stderr);

/// <summary>
/// Runs a child process of a test under one deadline for its output and its exit: past it the process is killed with
/// its children and the test fails naming the command. A hung script, or a background child that keeps an output pipe
/// open after its parent exited, cannot hang the test run.
/// </summary>
internal static class ChildProcess
{
    public static readonly TimeSpan DefaultLimit = TimeSpan.FromMinutes(3);

    /// <param name="start">What to run; its output is captured.</param>
    /// <param name="stdin">Written to the process's standard input, which is then closed; null: inherited, as by default.</param>
    /// <param name="limit">The deadline for the whole run (default 3 minutes).</param>
    public static async Task<ChildRun> RunAsync(ProcessStartInfo start, string? stdin = null, TimeSpan? limit = null)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = stdin is not null;
        start.UseShellExecute = false;
        var deadline = limit ?? DefaultLimit;
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{start.FileName} did not start");
        using var timeout = new CancellationTokenSource(deadline);
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
            if (stdin is not null)
            {
                try
                {
                    await process.StandardInput.WriteAsync(stdin.AsMemory(), timeout.Token);
                    process.StandardInput.Close();
                }
                catch (IOException)
                {
                    // The process exited (or closed its input) before reading it all: its exit and output tell what happened.
                }
            }

            await process.WaitForExitAsync(timeout.Token);
            return new ChildRun(process.ExitCode, await stdout, await stderr);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{start.FileName} {string.Join(' ', start.ArgumentList)}' did not finish within {deadline.TotalSeconds:0} s; killed");
        }
    }
}
