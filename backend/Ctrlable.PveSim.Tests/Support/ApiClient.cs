using System.Net;
using System.Text.Json.Nodes;

namespace Ctrlable.PveSim.Tests.Support;

/// <summary>What a Proxmox API call returned: status, reason phrase, and the JSON envelope.</summary>
internal sealed record ApiResponse(HttpStatusCode Status, string? Reason, JsonNode? Body, string Raw)
{
    public JsonNode? Data => Body?["data"];

    public string? Message => Body?["message"]?.GetValue<string>();

    public JsonObject? Errors => Body?["errors"] as JsonObject;

    public string Upid => Data!.GetValue<string>();

    public string? Error(string param) => Errors?[param]?.GetValue<string>();

    public override string ToString() => $"{(int)Status} {Reason} {Raw}";
}

/// <summary>A thin client that sends form bodies (as real clients must: no chunked JSON) and reads the envelope.</summary>
internal sealed class ApiClient(HttpClient http) : IDisposable
{
    public HttpClient Http { get; } = http;

    public Task<ApiResponse> Get(string path, params (string Key, string Value)[] query) =>
        Send(HttpMethod.Get, path + Query(query), null);

    public Task<ApiResponse> Delete(string path, params (string Key, string Value)[] query) =>
        Send(HttpMethod.Delete, path + Query(query), null);

    public Task<ApiResponse> Post(string path, params (string Key, string Value)[] form) =>
        Send(HttpMethod.Post, path, new FormUrlEncodedContent(form.Select(f => new KeyValuePair<string, string>(f.Key, f.Value))));

    public Task<ApiResponse> Put(string path, params (string Key, string Value)[] form) =>
        Send(HttpMethod.Put, path, new FormUrlEncodedContent(form.Select(f => new KeyValuePair<string, string>(f.Key, f.Value))));

    public async Task<ApiResponse> Send(HttpMethod method, string path, HttpContent? content)
    {
        using var request = new HttpRequestMessage(method, path.TrimStart('/')) { Content = content };
        using var response = await Http.SendAsync(request);
        var raw = await response.Content.ReadAsStringAsync();
        JsonNode? body = null;
        if (response.Content.Headers.ContentType?.MediaType == "application/json" && raw.Length > 0)
        {
            body = JsonNode.Parse(raw);
        }

        return new ApiResponse(response.StatusCode, response.ReasonPhrase, body, raw);
    }

    /// <summary>Polls the task like real clients do, until it stopped; returns the final status object.</summary>
    public async Task<JsonObject> WaitTask(string upid, TimeSpan? timeout = null)
    {
        var node = upid.Split(':')[1];
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            var status = await Get($"nodes/{node}/tasks/{Uri.EscapeDataString(upid)}/status");
            status.Status.Should().Be(HttpStatusCode.OK, status.ToString());
            if (status.Data!["status"]!.GetValue<string>() == "stopped")
            {
                return status.Data!.AsObject();
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"task {upid} still running");
            }

            await Task.Delay(10);
        }
    }

    /// <summary>Starts a task-returning call and waits for it; asserts the call itself succeeded.</summary>
    public async Task<JsonObject> RunTask(Task<ApiResponse> call)
    {
        var response = await call;
        response.Status.Should().Be(HttpStatusCode.OK, response.ToString());
        return await WaitTask(response.Upid);
    }

    public void Dispose() => Http.Dispose();

    private static string Query((string Key, string Value)[] query) =>
        query.Length == 0 ? "" : "?" + string.Join('&', query.Select(q => $"{Uri.EscapeDataString(q.Key)}={Uri.EscapeDataString(q.Value)}"));
}
