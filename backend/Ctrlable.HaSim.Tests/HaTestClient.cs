using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Ctrlable.HaSim.Tests;

/// <summary>Drives the emulator the way the orchestrator will: plain HTTP (no redirects followed) and the WebSocket API.</summary>
internal sealed class HaTestClient : IDisposable
{
    public HaTestClient(HaSimulator sim, int? port = null)
    {
        var p = port ?? sim.CorePort;
        Base = new Uri($"http://{sim.Address}:{p}/");
        ClientId = Base.ToString();
        Http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.Zero }) { BaseAddress = Base };
    }

    public Uri Base { get; }

    public string ClientId { get; }

    public HttpClient Http { get; }

    public string? AccessToken { get; set; }

    public async Task<(HttpStatusCode Status, JsonNode? Body, string Text)> SendAsync(HttpMethod method, string path, object? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = JsonContent.Create(json);
        }

        if (AccessToken is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AccessToken);
        }

        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        JsonNode? body = null;
        if (response.Content.Headers.ContentType?.MediaType == "application/json")
        {
            body = JsonNode.Parse(text);
        }

        return (response.StatusCode, body, text);
    }

    public Task<(HttpStatusCode Status, JsonNode? Body, string Text)> GetAsync(string path) => SendAsync(HttpMethod.Get, path);

    public Task<(HttpStatusCode Status, JsonNode? Body, string Text)> PostAsync(string path, object? json = null) => SendAsync(HttpMethod.Post, path, json ?? new { });

    public async Task<JsonNode> TokenAsync(IEnumerable<KeyValuePair<string, string>> form)
    {
        using var response = await Http.PostAsync("auth/token", new FormUrlEncodedContent(form));
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        body["_status"] = (int)response.StatusCode;
        return body;
    }

    public async Task<string> UploadAsync(byte[] tar)
    {
        using var content = new MultipartFormDataContent { { new ByteArrayContent(tar), "file", "backup.tar" } };
        using var response = await Http.PostAsync("api/onboarding/backup/upload?agent_id=hassio.local", content);
        response.StatusCode.Should().Be(HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["backup_id"]!.GetValue<string>();
    }

    /// <summary>Login flow + authorization code exchange; sets <see cref="AccessToken"/>.</summary>
    public async Task<JsonNode> LoginAsync(string username, string password)
    {
        var flow = await PostAsync("auth/login_flow", new { client_id = ClientId, handler = new object?[] { "homeassistant", null }, redirect_uri = ClientId, type = "authorize" });
        flow.Status.Should().Be(HttpStatusCode.OK, flow.Text);
        var step = await PostAsync($"auth/login_flow/{flow.Body!["flow_id"]}", new { client_id = ClientId, username, password });
        step.Body!["type"]!.GetValue<string>().Should().Be("create_entry", step.Text);
        var token = await TokenAsync([new("grant_type", "authorization_code"), new("code", step.Body["result"]!.GetValue<string>()), new("client_id", ClientId)]);
        AccessToken = token["access_token"]!.GetValue<string>();
        return token;
    }

    public async Task<HaSocket> ConnectAsync(string? token = null)
    {
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"ws://{Base.Authority}/api/websocket"), CancellationToken.None);
        var ws = new HaSocket(socket);
        (await ws.ReceiveAsync())!["type"]!.GetValue<string>().Should().Be("auth_required");
        await ws.SendAsync(new JsonObject { ["type"] = "auth", ["access_token"] = token ?? AccessToken });
        var reply = await ws.ReceiveAsync();
        ws.AuthReply = reply;
        return ws;
    }

    /// <summary>Polls as the HA frontend does after a restore: until the onboarding URL answers with <paramref name="status"/>.</summary>
    public async Task WaitForStatusAsync(string path, HttpStatusCode status, TimeSpan? timeout = null)
    {
        var until = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (DateTime.UtcNow < until)
        {
            try
            {
                if ((await GetAsync(path)).Status == status)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or System.Net.Sockets.SocketException)
            {
                // Core down: connection refused, or closed while it was being opened
            }

            await Task.Delay(25);
        }

        throw new TimeoutException($"{path} never answered {status}");
    }

    public void Dispose() => Http.Dispose();
}

internal sealed class HaSocket(ClientWebSocket socket) : IAsyncDisposable
{
    private long _id;

    public JsonNode? AuthReply { get; set; }

    public ClientWebSocket Socket => socket;

    public Task SendAsync(JsonObject message) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, CancellationToken.None);

    public async Task<JsonNode?> ReceiveAsync()
    {
        var buffer = new byte[65536];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var message = new MemoryStream();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, cts.Token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }

            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return JsonNode.Parse(message.ToArray());
            }
        }
    }

    /// <summary>Sends a command with the next id and returns its result message.</summary>
    public async Task<JsonNode> CommandAsync(string type, JsonObject? fields = null)
    {
        var message = fields ?? [];
        message["id"] = ++_id;
        message["type"] = type;
        await SendAsync(message);
        return (await ReceiveAsync())!;
    }

    public async ValueTask DisposeAsync()
    {
        if (socket.State == WebSocketState.Open)
        {
            try
            {
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
            }
            catch (WebSocketException)
            {
                // the server went away
            }
        }

        socket.Dispose();
    }
}
