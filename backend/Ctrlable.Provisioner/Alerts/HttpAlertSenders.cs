using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Ctrlable.Provisioner.Alerts;

/// <summary>
/// Webhook: POSTs the notification as JSON (<see cref="AlertNotification"/>, camelCase). With a signing secret the request
/// carries <c>X-Ctrlable-Signature: sha256=&lt;lower-case hex HMAC-SHA256 of the exact body bytes&gt;</c>; the body's
/// <c>at</c> lets the receiver refuse an old one replayed. A 2xx answer is delivered; anything else is retried.
/// </summary>
public sealed class WebhookSender(IHttpClientFactory http) : IAlertSender
{
    public const string SignatureHeader = "X-Ctrlable-Signature";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public string Kind => AlertTargetKinds.Webhook;

    public async Task<DeliveryAnswer> SendAsync(AlertTarget target, AlertNotification notification, CancellationToken ct)
    {
        var settings = target.Webhook ?? throw new InvalidOperationException($"Target {target.Id} has no webhook settings.");
        var body = JsonSerializer.SerializeToUtf8Bytes(notification, Json);
        using var request = new HttpRequestMessage(HttpMethod.Post, settings.Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        if (target.Secret(AlertTargetStore.SigningSecret) is { Length: > 0 } secret)
        {
            request.Headers.TryAddWithoutValidation(SignatureHeader, Sign(secret, body));
        }

        if (settings.HeaderName is { Length: > 0 } header && target.Secret(AlertTargetStore.HeaderValue) is { } value)
        {
            request.Headers.TryAddWithoutValidation(header, value);
        }

        return await HttpAlerts.SendAsync(http, request, ct);
    }

    /// <summary><c>sha256=</c> and the lower-case hex HMAC-SHA256 of <paramref name="body"/> under <paramref name="secret"/> (UTF-8).</summary>
    public static string Sign(string secret, byte[] body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));
}

/// <summary>
/// ntfy (https://docs.ntfy.sh/publish/): POST the message text to <c>&lt;server&gt;/&lt;topic&gt;</c> with the headers
/// <c>Title</c>, <c>Priority</c> (urgent for critical, high for a warning, default once resolved), <c>Tags</c> and,
/// with a token, <c>Authorization: Bearer</c>. Header values are ASCII (ntfy reads UTF-8 titles only RFC 2047-encoded).
/// </summary>
public sealed class NtfySender(IHttpClientFactory http) : IAlertSender
{
    public string Kind => AlertTargetKinds.Ntfy;

    public async Task<DeliveryAnswer> SendAsync(AlertTarget target, AlertNotification notification, CancellationToken ct)
    {
        var settings = target.Ntfy ?? throw new InvalidOperationException($"Target {target.Id} has no ntfy settings.");
        var url = $"{settings.Server.TrimEnd('/')}/{Uri.EscapeDataString(settings.Topic)}";
        var text = notification.Url is null ? notification.Detail : $"{notification.Detail}\n{notification.Url}";
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(text, Encoding.UTF8, "text/plain") };
        request.Headers.TryAddWithoutValidation("Title", Ascii($"[{notification.Site}] {notification.Title}"));
        request.Headers.TryAddWithoutValidation("Priority", Priority(notification));
        request.Headers.TryAddWithoutValidation("Tags", Ascii(string.Join(",", Tags(notification))));
        if (notification.Url is not null)
        {
            request.Headers.TryAddWithoutValidation("Click", notification.Url);
        }

        if (target.Secret(AlertTargetStore.Token) is { Length: > 0 } token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await HttpAlerts.SendAsync(http, request, ct);
    }

    public static string Priority(AlertNotification notification) => notification.State == "resolved"
        ? "default"
        : notification.Severity == AlertSeverities.Critical ? "urgent" : "high";

    /// <summary>ntfy shows known tag names as emoji: a warning sign while open, a check mark once resolved; then the event.</summary>
    public static IEnumerable<string> Tags(AlertNotification notification)
    {
        yield return notification.State == "resolved" ? "white_check_mark" : notification.Severity == AlertSeverities.Critical ? "rotating_light" : "warning";
        yield return notification.Event;
    }

    private static string Ascii(string value) => new([.. value.Select(c => c is >= ' ' and <= '~' ? c : '?')]);
}

/// <summary>The HTTP senders' one request: any 2xx is delivered; the answer is the status line, never the request.</summary>
internal static class HttpAlerts
{
    public const string HttpClientName = "alerts";

    public static async Task<DeliveryAnswer> SendAsync(IHttpClientFactory http, HttpRequestMessage request, CancellationToken ct)
    {
        try
        {
            using var response = await http.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            var answer = $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}".TrimEnd();
            return new DeliveryAnswer(response.IsSuccessStatusCode, answer);
        }
        catch (HttpRequestException ex) when (!ct.IsCancellationRequested)
        {
            return new DeliveryAnswer(false, ex.HttpRequestError == HttpRequestError.Unknown ? $"Not reached: {ex.Message}" : $"Not reached ({ex.HttpRequestError}).");
        }
        catch (Exception ex) when (!ct.IsCancellationRequested && ex is TaskCanceledException or TimeoutException or Polly.Timeout.TimeoutRejectedException)
        {
            return new DeliveryAnswer(false, "No answer in time.");
        }
    }
}
