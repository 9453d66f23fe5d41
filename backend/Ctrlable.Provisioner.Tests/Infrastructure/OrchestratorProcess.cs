using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace Ctrlable.Provisioner.Tests.Infrastructure;

/// <summary>
/// The built orchestrator as a child process (<c>dotnet Ctrlable.Provisioner.dll</c>, as the installed service runs it),
/// its settings as <c>CTRLABLE_*</c> environment variables, serving on fixed loopback URLs — so a test can freeze it
/// (SIGSTOP) and kill it (SIGKILL) at a chosen moment, like a crash, and start the next one on the same data directory.
/// </summary>
internal sealed class OrchestratorProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private OrchestratorProcess(Process process, Uri http)
    {
        _process = process;
        HttpAddress = http;
    }

    /// <summary>Where its API answers (plain HTTP on loopback).</summary>
    public Uri HttpAddress { get; }

    /// <summary>What it printed so far (for a failing assertion's message).</summary>
    public string Output => string.Join('\n', _output);

    /// <summary>Starts it and waits until <c>/healthz</c> answers on <paramref name="http"/> (one of <paramref name="urls"/>).</summary>
    public static async Task<OrchestratorProcess> StartAsync(IReadOnlyDictionary<string, string?> settings, string urls, Uri http)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Ctrlable.Provisioner.dll"));
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add(urls);
        foreach (var inherited in start.Environment.Keys.Where(k => k.StartsWith("CTRLABLE_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(inherited);
        }

        foreach (var (key, value) in settings)
        {
            start.Environment["CTRLABLE_" + key.Replace(":", "__", StringComparison.Ordinal).ToUpperInvariant()] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var orchestrator = new OrchestratorProcess(process, http);
        process.OutputDataReceived += (_, e) => orchestrator.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => orchestrator.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.StandardInput.Close();
        try
        {
            await orchestrator.WaitUntilServingAsync();
        }
        catch
        {
            await orchestrator.DisposeAsync();
            throw;
        }

        return orchestrator;
    }

    /// <summary>A client of its API sending <paramref name="token"/>.</summary>
    public HttpClient CreateClient(string token)
    {
        var client = new HttpClient { BaseAddress = HttpAddress, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new("Bearer", token);
        return client;
    }

    /// <summary>Stops every thread of it at once (SIGSTOP): whatever arrives from now on, it never acts on.</summary>
    public async Task FreezeAsync()
    {
        using var stop = Process.Start("kill", ["-STOP", _process.Id.ToString(CultureInfo.InvariantCulture)]);
        await stop.WaitForExitAsync();
        stop.ExitCode.Should().Be(0, "the orchestrator process should be frozen");
    }

    /// <summary>SIGKILL, as a crash or a power cut ends it: no shutdown code runs.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }

        _process.Dispose();
    }

    private void Keep(string? line)
    {
        if (line is not null)
        {
            _output.Enqueue(line);
        }
    }

    private async Task WaitUntilServingAsync()
    {
        using var client = new HttpClient { BaseAddress = HttpAddress, Timeout = TimeSpan.FromSeconds(5) };
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            while (!_process.HasExited)
            {
                try
                {
                    using var health = await client.GetAsync(new Uri("/healthz", UriKind.Relative), deadline.Token);
                    if (health.IsSuccessStatusCode)
                    {
                        return;
                    }
                }
                catch (HttpRequestException)
                {
                    // Not listening yet.
                }
                catch (TaskCanceledException) when (!deadline.IsCancellationRequested)
                {
                    // One attempt timed out (a loaded machine): ask again.
                }

                await Task.Delay(50, deadline.Token);
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            throw new TimeoutException($"the orchestrator did not serve within 90 s:\n{Output}");
        }

        throw new InvalidOperationException($"the orchestrator exited with {_process.ExitCode}:\n{Output}");
    }
}
