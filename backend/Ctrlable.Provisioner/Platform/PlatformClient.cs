using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Ctrlable.Provisioner.Platform;

public enum DeliveryOutcome
{
    /// <summary>The platform took the report (or already holds a newer one from this site).</summary>
    Accepted,

    /// <summary>The platform holds a higher sequence than the report's: send again above <see cref="DeliveryResult.LastSequence"/>.</summary>
    SequenceBehind,

    /// <summary>401/403: the site token is unknown, revoked or for another site.</summary>
    TokenRejected,

    /// <summary>Unreachable, timed out, 5xx, 429, or an answer outside the contract: try again later.</summary>
    Failed,
}

public sealed record DeliveryResult(DeliveryOutcome Outcome, string? Error = null, long LastSequence = 0, TimeSpan? RetryAfter = null);

public enum EnrolmentOutcome
{
    Enrolled,

    /// <summary>The platform refused the code (unknown, expired, used, malformed).</summary>
    CodeRefused,

    /// <summary>The platform could not be reached or answered outside the contract.</summary>
    Unreachable,
}

public sealed record EnrolmentResult(EnrolmentOutcome Outcome, EnrolmentResponse? Enrolment = null, string? Error = null);

/// <summary>
/// The platform's site API (docs/platform-api.yaml). Its HttpClient (base address, timeout) is configured in
/// <see cref="PlatformApi.AddPlatform"/>; the sender does its own retries with back-off, so the client makes one attempt.
/// Error texts never contain the token: they are built from status codes and the platform's problem titles.
/// </summary>
public sealed class PlatformClient(IHttpClientFactory factory, TimeProvider time)
{
    public const string HttpClientName = "platform";

    public async Task<EnrolmentResult> EnrolAsync(EnrolmentRequest request, CancellationToken ct)
    {
        try
        {
            using var response = await Http().PostAsJsonAsync("v1/enrolments", request, PlatformJson.Options, ct);
            if (response.StatusCode == HttpStatusCode.Created)
            {
                var body = await ReadAsync<EnrolmentResponse>(response, ct);
                return body is { SiteId.Length: > 0, SiteToken.Length: > 0 }
                    ? new EnrolmentResult(EnrolmentOutcome.Enrolled, body)
                    : new EnrolmentResult(EnrolmentOutcome.Unreachable, Error: "The platform's enrolment answer lacks the site id or token.");
            }

            var problem = await DescribeAsync(response, ct);
            return (int)response.StatusCode is >= 400 and < 500 and not 429
                ? new EnrolmentResult(EnrolmentOutcome.CodeRefused, Error: problem)
                : new EnrolmentResult(EnrolmentOutcome.Unreachable, Error: problem);
        }
        catch (Exception ex) when (IsTransport(ex, ct))
        {
            return new EnrolmentResult(EnrolmentOutcome.Unreachable, Error: Transport(ex));
        }
    }

    public async Task<DeliveryResult> SendReportAsync(SiteReport report, string token, CancellationToken ct)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"v1/sites/{Uri.EscapeDataString(report.SiteId)}/reports")
            {
                Content = JsonContent.Create(report, options: PlatformJson.Options),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await Http().SendAsync(request, ct);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                return await ReadAsync<ReportAck>(response, ct) switch
                {
                    null => new DeliveryResult(DeliveryOutcome.Failed, "The platform's answer is not a ReportAck."),
                    { Accepted: true } ack => new DeliveryResult(DeliveryOutcome.Accepted, LastSequence: ack.LastSequence),
                    // Not accepted and the platform holds this sequence or a later one.
                    { LastSequence: var last } when last >= report.Sequence => new DeliveryResult(DeliveryOutcome.SequenceBehind, $"The platform already holds sequence {last}.", last),
                    var ack => new DeliveryResult(DeliveryOutcome.Failed, $"The platform did not accept sequence {report.Sequence} (it holds {ack.LastSequence})."),
                };
            }

            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                return new DeliveryResult(DeliveryOutcome.TokenRejected, await DescribeAsync(response, ct));
            }

            return new DeliveryResult(DeliveryOutcome.Failed, await DescribeAsync(response, ct), RetryAfter: RetryAfter(response, time));
        }
        catch (Exception ex) when (IsTransport(ex, ct))
        {
            return new DeliveryResult(DeliveryOutcome.Failed, Transport(ex));
        }
    }

    /// <summary>Tells the platform the site leaves; null when it took note (or had revoked the token already), else why not.</summary>
    public async Task<string?> LeaveAsync(string siteId, string token, CancellationToken ct)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Delete, $"v1/sites/{Uri.EscapeDataString(siteId)}/enrolment");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await Http().SendAsync(request, ct);
            return response.StatusCode is HttpStatusCode.NoContent or HttpStatusCode.Unauthorized ? null : await DescribeAsync(response, ct);
        }
        catch (Exception ex) when (IsTransport(ex, ct))
        {
            return Transport(ex);
        }
    }

    private HttpClient Http() => factory.CreateClient(HttpClientName);

    private static async Task<T?> ReadAsync<T>(HttpResponseMessage response, CancellationToken ct)
        where T : class
    {
        try
        {
            return await response.Content.ReadFromJsonAsync<T>(PlatformJson.Options, ct);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response, TimeProvider time) =>
        response.Headers.RetryAfter?.Delta ?? (response.Headers.RetryAfter?.Date is { } date ? date - time.GetUtcNow() : null);

    /// <summary>"HTTP 503 (title: detail)" from a problem body when there is one; never the request.</summary>
    private static async Task<string> DescribeAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var status = $"HTTP {(int)response.StatusCode}";
        if (response.Content.Headers.ContentType?.MediaType is not ("application/problem+json" or "application/json"))
        {
            return $"The platform answered {status}.";
        }

        try
        {
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
            var title = problem.ValueKind == JsonValueKind.Object && problem.TryGetProperty("title", out var t) ? t.GetString() : null;
            var detail = problem.ValueKind == JsonValueKind.Object && problem.TryGetProperty("detail", out var d) ? d.GetString() : null;
            var text = string.Join(": ", new[] { title, detail }.Where(s => !string.IsNullOrWhiteSpace(s)));
            return text.Length == 0 ? $"The platform answered {status}." : $"The platform answered {status} ({Truncate(text)}).";
        }
        catch (JsonException)
        {
            return $"The platform answered {status}.";
        }
    }

    private static string Truncate(string text) => text.Length <= 300 ? text : text[..300] + "…";

    // Timeouts surface as TaskCanceledException/TimeoutRejectedException; a cancelled caller is not a transport error.
    private static bool IsTransport(Exception ex, CancellationToken ct) =>
        !ct.IsCancellationRequested && ex is HttpRequestException or TaskCanceledException or TimeoutException or Polly.Timeout.TimeoutRejectedException;

    private static string Transport(Exception ex) => ex switch
    {
        HttpRequestException { HttpRequestError: var error } when error != HttpRequestError.Unknown => $"The platform could not be reached ({error}).",
        HttpRequestException http => $"The platform could not be reached ({http.Message}).",
        _ => "The platform did not answer in time.",
    };
}
