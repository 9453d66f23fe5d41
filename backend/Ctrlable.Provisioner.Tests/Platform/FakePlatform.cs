using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ctrlable.Provisioner.Tests.Platform;

/// <summary>How the fake platform answers reports for now.</summary>
public enum PlatformMode
{
    Normal,

    /// <summary>Connections are dropped without an answer (platform or the site's uplink down).</summary>
    Down,

    /// <summary>500 for every report.</summary>
    ServerError,

    /// <summary>503 with Retry-After.</summary>
    Busy,

    /// <summary>Answers only after <see cref="FakePlatform.SlowDelay"/> (longer than the orchestrator's attempt timeout).</summary>
    Slow,
}

/// <summary>One report request as the fake saw it.</summary>
public sealed record ReportAttempt(string SiteId, long? Sequence, int Status, JsonElement Body, string Authorization);

/// <summary>
/// The central platform's site API (docs/platform-api.yaml) on 127.0.0.1, free port, plain HTTP (loopback is the one
/// place the orchestrator allows http://). Every request body is validated against the document's schemas, and so
/// is every answer; a body outside the contract is answered 400 and kept in <see cref="ContractViolations"/>.
/// </summary>
public sealed class FakePlatform : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, string> _codes = new(StringComparer.Ordinal);        // code -> site id
    private readonly ConcurrentDictionary<string, string> _tokens = new(StringComparer.Ordinal);       // site id -> current token
    private readonly ConcurrentDictionary<string, long> _lastSequence = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<ReportAttempt> _attempts = new();
    private readonly ConcurrentQueue<JsonElement> _accepted = new();
    private readonly ConcurrentQueue<string> _violations = new();
    private readonly ConcurrentQueue<string> _issuedTokens = new();
    private readonly ConcurrentQueue<string> _left = new();

    private FakePlatform(WebApplication app) => _app = app;

    public PlatformMode Mode { get; set; }

    /// <summary>Longer than the attempt timeout the tests configure (PlatformHarness.Settings).</summary>
    public TimeSpan SlowDelay { get; set; } = TimeSpan.FromSeconds(8);

    public int RetryAfterSeconds { get; set; } = 1;

    /// <summary>Base URL to configure as Platform:Url.</summary>
    public string Url { get; private set; } = "";

    public IReadOnlyList<ReportAttempt> Attempts => [.. _attempts];

    /// <summary>Reports the platform accepted (sequence above the last), oldest first.</summary>
    public IReadOnlyList<JsonElement> Accepted => [.. _accepted];

    public JsonElement? Latest => _accepted.IsEmpty ? null : _accepted.Last();

    public IReadOnlyList<string> ContractViolations => [.. _violations];

    /// <summary>Every site token the fake handed out (for the never-in-logs checks).</summary>
    public IReadOnlyList<string> IssuedTokens => [.. _issuedTokens];

    /// <summary>Sites that told the platform they leave (their token revoked).</summary>
    public IReadOnlyList<string> Left => [.. _left];

    public static async Task<FakePlatform> StartAsync()
    {
        // Compile the schemas now, not inside the first request's time budget.
        using (var empty = JsonDocument.Parse("{}"))
        {
            _ = PlatformContract.Validate("EnrolmentRequest", empty.RootElement);
            _ = PlatformContract.Validate("SiteReport", empty.RootElement);
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var platform = new FakePlatform(app);
        app.MapPost("/api/v1/enrolments", (Func<HttpContext, Task<IResult>>)platform.EnrolAsync);
        app.MapPost("/api/v1/sites/{siteId}/reports", platform.ReportAsync);
        app.MapDelete("/api/v1/sites/{siteId}/enrolment", platform.Leave);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        platform.Url = address.TrimEnd('/') + "/api";
        return platform;
    }

    /// <summary>A one-time code for <paramref name="siteId"/>, as a platform user would create it.</summary>
    public string CreateCode(string siteId = "site-0042")
    {
        var code = "ENR-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(5));
        _codes[code] = siteId;
        return code;
    }

    /// <summary>Revokes every site token (a platform user revoked the site).</summary>
    public void RevokeTokens() => _tokens.Clear();

    public long LastSequence(string siteId) => _lastSequence.GetValueOrDefault(siteId);

    private async Task<IResult> EnrolAsync(HttpContext context)
    {
        var (body, problem) = await ReadAsync(context, "EnrolmentRequest");
        if (problem is not null)
        {
            return problem;
        }

        var code = body.GetProperty("code").GetString()!;
        if (!_codes.TryRemove(code, out var siteId))
        {
            return Problem(422, "Unknown enrolment code", "The code is unknown, expired or used already.");
        }

        var token = "cst_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).Replace('+', '-').Replace('/', '_').TrimEnd('=');
        _tokens[siteId] = token; // replaces (revokes) the site's earlier token
        _issuedTokens.Enqueue(token);
        return Answer(201, "EnrolmentResponse", new { siteId, siteToken = token, siteName = "Test site" });
    }

    private async Task<IResult> ReportAsync(HttpContext context, string siteId)
    {
        var authorization = context.Request.Headers.Authorization.ToString();
        switch (Mode)
        {
            case PlatformMode.Down:
                Record(siteId, null, 0, default, authorization);
                context.Abort();
                return Results.Empty;
            case PlatformMode.ServerError:
                Record(siteId, null, 500, default, authorization);
                return Problem(500, "Internal error", "Something broke on the platform.");
            case PlatformMode.Busy:
                Record(siteId, null, 503, default, authorization);
                context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return Problem(503, "Busy", "Too many sites reporting; try later.");
            case PlatformMode.Slow:
                await Task.Delay(SlowDelay, context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
                break;
        }

        var (body, problem) = await ReadAsync(context, "SiteReport");
        var sequence = body.ValueKind == JsonValueKind.Object && body.TryGetProperty("sequence", out var s) && s.TryGetInt64(out var n) ? n : (long?)null;
        if (problem is not null)
        {
            Record(siteId, sequence, 400, body, authorization);
            return problem;
        }

        if (!_tokens.TryGetValue(siteId, out var token) || authorization != $"Bearer {token}")
        {
            Record(siteId, sequence, 401, body, authorization);
            return Problem(401, "Site token not accepted", "The token is unknown or revoked; enrol the site again.");
        }

        if (body.GetProperty("siteId").GetString() != siteId)
        {
            _violations.Enqueue($"report for {siteId} names site {body.GetProperty("siteId")}");
            Record(siteId, sequence, 400, body, authorization);
            return Problem(400, "Wrong site", "The report's siteId differs from the path.");
        }

        Record(siteId, sequence, 200, body, authorization);
        lock (_lastSequence)
        {
            var last = _lastSequence.GetValueOrDefault(siteId);
            if (sequence <= last)
            {
                return Answer(200, "ReportAck", new { accepted = false, lastSequence = last });
            }

            _lastSequence[siteId] = sequence!.Value;
            _accepted.Enqueue(body.Clone());
            return Answer(200, "ReportAck", new { accepted = true, lastSequence = sequence.Value });
        }
    }

    private IResult Leave(HttpContext context, string siteId)
    {
        switch (Mode)
        {
            case PlatformMode.Down:
                context.Abort();
                return Results.Empty;
            case PlatformMode.ServerError:
                return Problem(500, "Internal error", "Something broke on the platform.");
        }

        if (!_tokens.TryGetValue(siteId, out var token) || context.Request.Headers.Authorization.ToString() != $"Bearer {token}")
        {
            return Problem(401, "Site token not accepted", "The token is unknown or revoked.");
        }

        _tokens.TryRemove(siteId, out _);
        _left.Enqueue(siteId);
        return Results.NoContent();
    }

    private void Record(string siteId, long? sequence, int status, JsonElement body, string authorization) =>
        _attempts.Enqueue(new ReportAttempt(siteId, sequence, status, body.ValueKind == JsonValueKind.Undefined ? default : body.Clone(), authorization));

    private async Task<(JsonElement Body, IResult? Problem)> ReadAsync(HttpContext context, string schema)
    {
        if (context.Request.ContentType?.StartsWith("application/json", StringComparison.Ordinal) != true)
        {
            _violations.Enqueue($"{schema}: content type {context.Request.ContentType}");
            return (default, Problem(400, "Expected application/json", null));
        }

        JsonElement body;
        try
        {
            body = (await JsonDocument.ParseAsync(context.Request.Body)).RootElement;
        }
        catch (JsonException ex)
        {
            _violations.Enqueue($"{schema}: not JSON ({ex.Message})");
            return (default, Problem(400, "Not JSON", null));
        }

        var errors = PlatformContract.Validate(schema, body);
        foreach (var error in errors)
        {
            _violations.Enqueue(error);
        }

        return (body, errors.Count == 0 ? null : Problem(400, $"Body does not match {schema}", string.Join("; ", errors)));
    }

    /// <summary>The fake's own answers must match the contract too.</summary>
    private IResult Answer(int status, string schema, object body)
    {
        var element = JsonSerializer.SerializeToElement(body);
        foreach (var error in PlatformContract.Validate(schema, element))
        {
            _violations.Enqueue("fake platform answer: " + error);
        }

        return Results.Json(body, statusCode: status);
    }

    private static IResult Problem(int status, string title, string? detail) => Results.Problem(title: title, detail: detail, statusCode: status);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
