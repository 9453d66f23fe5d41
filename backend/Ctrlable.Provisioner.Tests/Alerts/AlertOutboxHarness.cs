using Ctrlable.Provisioner.Alerts;
using Ctrlable.Provisioner.Secrets;
using Ctrlable.Provisioner.State;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Ctrlable.Provisioner.Tests.Alerts;

/// <summary>
/// The alert pieces without a host, on their own database and a fake clock: a test raises incidents and runs the
/// sender's rounds itself (<see cref="RoundAsync"/>), so nothing depends on when a background loop wakes.
/// </summary>
internal sealed class AlertOutboxHarness : IDisposable
{
    private readonly string _directory = TempDirectory.Create("alerts");

    private AlertOutboxHarness(AlertsOptions options)
    {
        Time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        Database = new Database(Path.Combine(_directory, "provisioner.db"));
        var secrets = new SecretStore(Database, new SecretProtector(DataProtectionProvider.Create(new DirectoryInfo(Path.Combine(_directory, "keys")))), Time);
        Targets = new AlertTargetStore(Database, secrets, Time);
        Dispatcher = new AlertDispatcher(new AlertOutbox(Database), Targets, [new WebhookSender(new Clients())], Options.Create(options), Time, NullLogger<AlertDispatcher>.Instance);
        Events = new AlertEvents(Database, Dispatcher, Time, NullLogger<AlertEvents>.Instance);
    }

    public FakeTimeProvider Time { get; }
    public Database Database { get; }
    public AlertTargetStore Targets { get; }
    public AlertDispatcher Dispatcher { get; }
    public AlertEvents Events { get; }

    public static async Task<AlertOutboxHarness> StartAsync(AlertsOptions options)
    {
        TypeHandlers.Register();
        var harness = new AlertOutboxHarness(options);
        await new Migrator(harness.Database, NullLogger<Migrator>.Instance).MigrateAsync();
        return harness;
    }

    public async Task<long> AddWebhookAsync(HttpSink sink)
    {
        var (target, refusal) = await Targets.CreateAsync(new AlertTargetRequest("sink", AlertTargetKinds.Webhook, Webhook: new WebhookSettings(sink.Url + "/hook")), CancellationToken.None);
        return target?.Id ?? throw new InvalidOperationException(refusal?.Detail);
    }

    public Task<DateTimeOffset?> RoundAsync() => Dispatcher.RoundAsync(CancellationToken.None);

    public void Dispose()
    {
        Dispatcher.Dispose();
        TempDirectory.TryDelete(_directory);
    }

    private sealed class Clients : IHttpClientFactory
    {
        public HttpClient CreateClient(string name) => new();
    }
}
