using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Hosting;

/// <summary>
/// Request bodies have limits (first-boot calls 64 KiB, manifest validation 1 MiB, everything else 1 MiB); a larger
/// body, announced or chunked, is a 413 problem+json, on the real Kestrel listener. A flood of them leaves the process
/// healthy.
/// </summary>
public sealed class RequestBodyLimitTests : IDisposable
{
    private const int KiB = 1024;

    private readonly ProvisionerApp _app = new(kestrelUrls: "http://127.0.0.1:0", settings: new Dictionary<string, string?>
    {
        // The flood below comes from one address; the first-boot rate limit is not what is tested here.
        ["Provision:PermitLimit"] = "1000000",
    });

    public void Dispose() => _app.Dispose();

    public static TheoryData<string, int, bool> Endpoints => new()
    {
        { "/api/provision/complete", 64 * KiB, false },
        { "/api/provision/complete", 64 * KiB, true },
        { "/api/releases/validate", 1024 * KiB, false },
        { "/api/releases/validate", 1024 * KiB, true },
        { "/api/projects", 1024 * KiB, false },
        { "/api/projects", 1024 * KiB, true },
    };

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task A_body_over_the_limit_is_413_problem_json_and_one_at_the_limit_is_read(string path, int limit, bool chunked)
    {
        var token = await _app.CreateTokenAsync(Role.Admin);
        using var client = Client(token);

        var type = path == "/api/releases/validate" ? "application/yaml" : "application/json";
        using var over = await client.PostAsync(path, Body(limit + 1, chunked, type));

        over.StatusCode.Should().Be(HttpStatusCode.RequestEntityTooLarge);
        over.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        var problem = await over.Content.ReadFromJsonAsync<JsonElement>();
        problem.GetProperty("code").GetString().Should().Be("body-too-large");
        problem.GetProperty("limit").GetInt64().Should().Be(limit);

        using var at = await client.PostAsync(path, Body(limit, chunked, type));
        at.StatusCode.Should().NotBe(HttpStatusCode.RequestEntityTooLarge, "a body of exactly the limit is read (and then judged on its content)");
        at.StatusCode.Should().BeOneOf(HttpStatusCode.BadRequest, HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task A_thousand_concurrent_oversized_requests_leave_the_process_healthy()
    {
        var token = await _app.CreateTokenAsync(Role.Viewer);
        var clients = Enumerable.Range(0, 4).Select(_ => Client(token, maxConnections: 16)).ToList();
        // Well-formed bodies, so that nothing refuses them for their content before their size is known.
        var provisionBody = Json((64 * KiB) + 1);
        var defaultBody = Json((1024 * KiB) + 1);
        using var gate = new SemaphoreSlim(64);

        var answers = await Task.WhenAll(Enumerable.Range(0, 1000).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                // Mostly first-boot calls (anonymous, on the LAN), some large ones to a signed-in endpoint; half chunked.
                var (path, body, type) = i % 10 == 0 ? ("/api/releases/validate", defaultBody, "application/yaml") : ("/api/provision/complete", provisionBody, "application/json");
                using var response = await clients[i % clients.Count].PostAsync(path, Content(body, chunked: i % 2 == 0, type));
                return $"{(int)response.StatusCode} {response.Content.Headers.ContentType?.MediaType}";
            }
            catch (HttpRequestException ex)
            {
                return $"{ex.GetType().Name}: {ex.Message}";
            }
            finally
            {
                gate.Release();
            }
        }));

        answers.GroupBy(a => a).ToDictionary(g => g.Key, g => g.Count()).Should().Equal(new Dictionary<string, int> { ["413 application/problem+json"] = 1000 });
        using var fresh = Client(token);
        (await fresh.GetFromJsonAsync<JsonElement>("/healthz")).GetProperty("status").GetString().Should().Be("ok");
        using var normal = await fresh.PostAsync("/api/releases/validate", new StringContent(await File.ReadAllTextAsync(Path.Combine(_app.ReleasesDirectory, "2026.06.yaml")), Encoding.UTF8, "application/yaml"));
        normal.StatusCode.Should().Be(HttpStatusCode.OK, await normal.Content.ReadAsStringAsync());
        foreach (var client in clients)
        {
            client.Dispose();
        }
    }

    private HttpClient Client(string token, int maxConnections = 4)
    {
        var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = maxConnections }) { BaseAddress = _app.HttpAddress, Timeout = TimeSpan.FromMinutes(2) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    private static HttpContent Body(int bytes, bool chunked, string type) => Content(Json(bytes), chunked, type);

    /// <summary>A JSON document of exactly <paramref name="bytes"/> bytes: a string property padded to size.</summary>
    private static byte[] Json(int bytes)
    {
        const string head = "{\"hostname\":\"padding\",\"message\":\"";
        const string tail = "\"}";
        return Encoding.ASCII.GetBytes(head + new string('x', bytes - head.Length - tail.Length) + tail);
    }

    private static HttpContent Content(byte[] body, bool chunked, string type)
    {
        HttpContent content = chunked ? new ChunkedContent(body) : new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(type);
        return content;
    }

    /// <summary>A body sent without Content-Length (Transfer-Encoding: chunked), in pieces as a streaming client would.</summary>
    private sealed class ChunkedContent(byte[] body) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            for (var offset = 0; offset < body.Length; offset += 16 * KiB)
            {
                await stream.WriteAsync(body.AsMemory(offset, Math.Min(16 * KiB, body.Length - offset)));
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
