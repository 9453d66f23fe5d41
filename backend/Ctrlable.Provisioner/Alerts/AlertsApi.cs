using System.Text.RegularExpressions;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Hosting;
using Ctrlable.Provisioner.Http;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Alerts;

public static partial class AlertsApi
{
    /// <summary>Alerts: settings (checked at start), targets, incidents, the outbox sender, the monitor, the senders and their HTTP client.</summary>
    public static IServiceCollection AddAlerts(this IServiceCollection services)
    {
        services.AddSingleton<IValidateOptions<AlertsOptions>, AlertsOptionsValidator>();
        services.AddOptions<AlertsOptions>().BindConfiguration(AlertsOptions.Section).ValidateOnStart();
        services.AddSingleton<AlertTargetStore>();
        services.AddSingleton<AlertOutbox>();
        services.AddSingleton<AlertDispatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<AlertDispatcher>());
        services.AddSingleton<AlertEvents>();
        services.AddSingleton<GuestStopRequests>();
        services.AddSingleton<AlertMonitor>();
        services.AddHostedService(sp => sp.GetRequiredService<AlertMonitor>());
        services.AddSingleton<IAlertSender, WebhookSender>();
        services.AddSingleton<IAlertSender, NtfySender>();
        services.AddSingleton<IAlertSender, SmtpAlertSender>();
        // Webhooks and ntfy: one attempt per call (the dispatcher retries with back-off), no redirect followed (a header
        // secret must not travel to where a redirect points), no cookies.
        services.AddHttpClient(HttpAlerts.HttpClientName, http => http.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                AllowAutoRedirect = false,
                UseCookies = false,
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                ConnectTimeout = TimeSpan.FromSeconds(10),
            })
            .WithAttemptTimeout("alerts", sp => sp.GetRequiredService<IOptions<AlertsOptions>>().Value.AttemptTimeout);
        return services;
    }

    public static RouteGroupBuilder MapAlerts(this IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/api/alerts").WithTags("Alerts");
        var targets = group.MapGroup("/targets").RequireRole(Role.Admin);

        targets.MapGet("", async Task<Ok<IReadOnlyList<AlertTargetView>>> (AlertTargetStore store, CancellationToken ct) => TypedResults.Ok(await store.ListAsync(ct)))
            .WithName("ListAlertTargets")
            .WithSummary("Notification targets (webhook, ntfy, SMTP) with which secrets are stored; never a secret.");

        targets.MapPost("", async Task<Results<Created<AlertTargetView>, ProblemHttpResult>> (AlertTargetRequest request, AlertTargetStore store, CancellationToken ct) =>
                await store.CreateAsync(request, ct) switch
                {
                    ({ } target, _) => TypedResults.Created($"/api/alerts/targets/{target.Id}", target),
                    (_, var refusal) => refusal!.ToProblem(),
                })
            .WithValidation<AlertTargetRequest>()
            .WithName("CreateAlertTarget")
            .WithSummary("Add a notification target; its secrets are stored encrypted and never returned. Incidents opened from now on are sent to it.")
            .ProducesProblem(StatusCodes.Status409Conflict);

        targets.MapGet("/{id:long}", async Task<Results<Ok<AlertTargetView>, ProblemHttpResult>> (long id, AlertTargetStore store, CancellationToken ct) =>
                await store.GetViewAsync(id, ct) is { } target ? TypedResults.Ok(target) : AlertTargetStore.NotFound(id).ToProblem())
            .WithName("GetAlertTarget")
            .WithSummary("One notification target; never a secret.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        targets.MapPut("/{id:long}", async Task<Results<Ok<AlertTargetView>, ProblemHttpResult>> (long id, AlertTargetRequest request, AlertTargetStore store, CancellationToken ct) =>
                await store.UpdateAsync(id, request, ct) switch
                {
                    ({ } target, _) => TypedResults.Ok(target),
                    (_, var refusal) => refusal!.ToProblem(),
                })
            .WithValidation<AlertTargetRequest>()
            .WithName("UpdateAlertTarget")
            .WithSummary("Replace a target's settings. A secret left out is kept only while the destination (URL, ntfy server, SMTP server and user) stays the same; \"\" removes it.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);

        targets.MapDelete("/{id:long}", async Task<Results<NoContent, ProblemHttpResult>> (long id, AlertTargetStore store, CancellationToken ct) =>
                await store.DeleteAsync(id, ct) ? TypedResults.NoContent() : AlertTargetStore.NotFound(id).ToProblem())
            .WithName("DeleteAlertTarget")
            .WithSummary("Remove a target, its secrets and what it was still owed.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        targets.MapPost("/{id:long}/test", async Task<Results<Ok<AlertTestResult>, ProblemHttpResult>> (
                long id, AlertTargetStore store, AlertDispatcher dispatcher, IOptions<AlertsOptions> options, TimeProvider time, HttpContext http, CancellationToken ct) =>
            {
                if (await store.GetAsync(id, ct) is not { } target)
                {
                    return AlertTargetStore.NotFound(id).ToProblem();
                }

                var who = Actor.From(http.User)?.Name ?? "an admin";
                var test = new AlertNotification("test", AlertSeverities.Warning, "open", $"target/{id}", "Test notification from Ctrlable Provisioner",
                    $"Sent by {who} with \"Send test\" to the target '{target.Name}'. Alerts reach you like this.",
                    AlertDispatcher.SiteName(options.Value), null, null, time.GetUtcNow(), AlertDispatcher.Link(options.Value, "/settings/alerts"));
                var answer = await dispatcher.SendAsync(target, test, ct);
                return TypedResults.Ok(new AlertTestResult(answer.Delivered, answer.Answer));
            })
            .WithName("TestAlertTarget")
            .WithSummary("Send a test notification now and say what the target answered (HTTP status, SMTP reply, or why it was not reached).")
            .ProducesProblem(StatusCodes.Status404NotFound);

        group.MapGet("/incidents", async Task<Ok<IReadOnlyList<AlertIncidentView>>> (bool? open, int? limit, AlertEvents alerts, CancellationToken ct) =>
                TypedResults.Ok(await alerts.ListAsync(open ?? false, Math.Clamp(limit ?? 100, 1, 1000), ct)))
            .RequireRole(Role.Viewer)
            .WithName("ListAlertIncidents")
            .WithSummary("Incidents, newest first (open=true: only open ones): what happened, when it was notified and resolved.");

        return group;
    }

    [GeneratedRegex("^[-_A-Za-z0-9]{1,64}$")]
    internal static partial Regex NtfyTopic();

    [GeneratedRegex("^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")]
    internal static partial Regex HeaderToken();
}

public sealed class AlertTargetRequestValidator : AbstractValidator<AlertTargetRequest>
{
    private static readonly string[] ReservedHeaders = ["content-type", "content-length", "host", "transfer-encoding", WebhookSender.SignatureHeader.ToLowerInvariant()];

    public AlertTargetRequestValidator()
    {
        RuleFor(r => r.Name).NotEmpty().MaximumLength(100);
        RuleFor(r => r.Kind).Must(k => AlertTargetKinds.All.Contains(k)).WithMessage("Choose webhook, ntfy or smtp.");
        When(r => r.Kind == AlertTargetKinds.Webhook, () =>
        {
            RuleFor(r => r.Webhook).NotNull().WithMessage("A webhook target needs its settings (url).");
            RuleFor(r => r.Webhook!.Url).Must(HttpUrl).When(r => r.Webhook is not null).WithMessage("Enter the http:// or https:// URL the JSON is POSTed to.");
            RuleFor(r => r.Webhook!.HeaderName)
                .Must(h => AlertsApi.HeaderToken().IsMatch(h!) && !ReservedHeaders.Contains(h!.ToLowerInvariant()))
                .When(r => r.Webhook?.HeaderName is { Length: > 0 })
                .WithMessage("A header name such as Authorization (letters, digits, dashes; not Content-Type, Host or X-Ctrlable-Signature).");
        });
        When(r => r.Kind == AlertTargetKinds.Ntfy, () =>
        {
            RuleFor(r => r.Ntfy).NotNull().WithMessage("An ntfy target needs its settings (server, topic).");
            RuleFor(r => r.Ntfy!.Server).Must(HttpUrl).When(r => r.Ntfy is not null).WithMessage("Enter the ntfy server's URL, e.g. https://ntfy.sh.");
            RuleFor(r => r.Ntfy!.Topic).Must(t => t is not null && AlertsApi.NtfyTopic().IsMatch(t)).When(r => r.Ntfy is not null)
                .WithMessage("A topic is 1–64 letters, digits, '-' or '_'.");
        });
        When(r => r.Kind == AlertTargetKinds.Smtp, () =>
        {
            RuleFor(r => r.Smtp).NotNull().WithMessage("An e-mail target needs its settings (host, port, from, to).");
            When(r => r.Smtp is not null, () =>
            {
                RuleFor(r => r.Smtp!.Host).Must(h => Uri.CheckHostName(h) != UriHostNameType.Unknown).WithMessage("Enter the SMTP server's host name or address.");
                RuleFor(r => r.Smtp!.Port).InclusiveBetween(1, 65535);
                RuleFor(r => r.Smtp!.From).Must(Mailbox).WithMessage("Enter the sender's address, e.g. alerts@dealer.example.");
                RuleFor(r => r.Smtp!.To).NotEmpty().Must(to => to is null || to.Count <= 20).WithMessage("Give one to twenty recipients.");
                RuleForEach(r => r.Smtp!.To).Must(Mailbox).WithMessage("Not an e-mail address.");
                RuleFor(r => r.Smtp!.Username).MaximumLength(200);
                RuleFor(r => r.Smtp!.CaCertificatePem).Must(Pem).When(r => r.Smtp!.CaCertificatePem is { Length: > 0 })
                    .WithMessage("Paste the CA's certificate in PEM form (-----BEGIN CERTIFICATE----- …).");
            });
        });
        RuleFor(r => r.Secrets!.SigningSecret).MaximumLength(1000).When(r => r.Secrets is not null);
        RuleFor(r => r.Secrets!.HeaderValue).MaximumLength(4000).When(r => r.Secrets is not null);
        RuleFor(r => r.Secrets!.Token).MaximumLength(1000).When(r => r.Secrets is not null);
        RuleFor(r => r.Secrets!.Password).MaximumLength(1000).When(r => r.Secrets is not null);
    }

    private static bool HttpUrl(string? value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var url) && url.Scheme is "http" or "https" && url.Host.Length > 0 && url.UserInfo.Length == 0;

    private static bool Mailbox(string? value) => value is { Length: > 0 and <= 254 } && MimeKit.MailboxAddress.TryParse(value, out var mailbox) && mailbox.Address.Contains('@');

    private static bool Pem(string? pem)
    {
        try
        {
            using var certificate = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(pem);
            return true;
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return false;
        }
    }
}
