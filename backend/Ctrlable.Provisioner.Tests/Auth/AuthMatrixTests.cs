using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Build;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;

namespace Ctrlable.Provisioner.Tests.Auth;

/// <summary>
/// Every endpoint the running app maps (read from its endpoint data source, not a list kept by hand) is called
/// by every kind of caller, and the answer must match the role its metadata declares. A new endpoint without
/// <c>.RequireRole(...)</c> or an explicit <c>.AllowAnonymous()</c> fails here. The tests share the class's apps
/// (<see cref="Apps"/>): none of them changes what another one reads.
/// </summary>
public sealed class AuthMatrixTests(AuthMatrixTests.Apps apps) : IClassFixture<AuthMatrixTests.Apps>
{
    /// <summary>An app that is never set up (every test but the role matrix), and one the role matrix sets up.</summary>
    public sealed class Apps : IDisposable
    {
        internal ProvisionerApp Fresh { get; } = new();

        internal ProvisionerApp SetUp { get; } = new();

        public void Dispose()
        {
            Fresh.Dispose();
            SetUp.Dispose();
        }
    }

    private ProvisionerApp Fresh => apps.Fresh;

    [Fact]
    public void Every_endpoint_declares_a_role_or_explicit_anonymous_access()
    {
        var endpoints = Endpoints(Fresh);

        endpoints.Should().NotBeEmpty();
        foreach (var endpoint in endpoints)
        {
            var anonymous = endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null;
            var role = endpoint.RequiredRole();
            (anonymous || role is not null).Should().BeTrue($"{Describe(endpoint)} must say .RequireRole(Role.X) or .AllowAnonymous()");
            (anonymous && role is not null).Should().BeFalse($"{Describe(endpoint)} declares a role and anonymous access at once");
            if (endpoint.Metadata.GetMetadata<BuildTicketMetadata>() is not null)
            {
                anonymous.Should().BeTrue($"{Describe(endpoint)}: a build-ticket endpoint is anonymous for ASP.NET and checks the ticket itself");
                endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Antiforgery.IAntiforgeryMetadata>()!.RequiresValidation.Should().BeFalse(Describe(endpoint));
            }
            if (role is { } r)
            {
                endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>().Select(a => a.Policy).Should()
                    .Contain(AuthPolicies.For(r), $"{Describe(endpoint)}: the role metadata must come with its policy (use RequireRole)");
            }
        }
    }

    [Fact]
    public async Task Before_setup_every_protected_endpoint_answers_503_pointing_at_setup()
    {
        using var anonymous = Fresh.CreateBrowserClient();

        foreach (var (endpoint, method, url) in Calls(Endpoints(Fresh)))
        {
            // Headers only: an event stream that is allowed never ends.
            using var response = await anonymous.SendAsync(Request(endpoint, method, url), HttpCompletionOption.ResponseHeadersRead);
            var where = $"{method} {url} ({Describe(endpoint)})";
            if (endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null)
            {
                response.StatusCode.Should().NotBe(HttpStatusCode.ServiceUnavailable, where);
                continue;
            }

            response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable, where);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            problem.GetProperty("code").GetString().Should().Be("setup-required", where);
        }
    }

    [Fact]
    public async Task Every_endpoint_answers_each_caller_as_its_role_allows()
    {
        var app = apps.SetUp;
        await app.EnsureSetUpAsync();
        var revoked = await app.CreateTokenAsync(Role.Admin, name: "revoked");
        var revokedId = (await app.Service<ApiTokenRepository>().ListAsync()).Single(t => t.Name == "revoked").Id;
        await app.Service<ApiTokenService>().RevokeAsync(revokedId, CancellationToken.None);
        var expired = await app.CreateTokenAsync(Role.Admin, expiresAt: DateTimeOffset.UtcNow.AddMinutes(-1), name: "expired");

        var callers = new List<(string Name, Role? Role, HttpClient Client)>
        {
            ("anonymous", null, app.CreateBrowserClient()),
            ("revoked admin token", null, app.CreateTokenClient(revoked)),
            ("expired admin token", null, app.CreateTokenClient(expired)),
        };
        foreach (var role in Enum.GetValues<Role>())
        {
            callers.Add(($"{role} token", role, await app.CreateClientAsync(role, Via.Token)));
            callers.Add(($"{role} session", role, await app.CreateClientAsync(role, Via.Cookie)));
        }

        // Spot-check that the enumeration reaches recently added features (platform report-up, issue #11).
        Calls(Endpoints(app)).Select(c => $"{c.Method} {c.Url}").Should().Contain(
            ["GET /api/platform/status", "POST /api/platform/enrolment", "PUT /api/platform/enrolment", "DELETE /api/platform/enrolment"]);

        var checkedCalls = 0;
        foreach (var (endpoint, method, url) in Calls(Endpoints(app)))
        {
            var required = endpoint.RequiredRole();
            foreach (var (name, role, client) in callers)
            {
                using var response = await client.SendAsync(Request(endpoint, method, url), HttpCompletionOption.ResponseHeadersRead);
                var body = response.Content.Headers.ContentType?.MediaType == "text/event-stream" ? "" : await response.Content.ReadAsStringAsync();
                var where = $"{name}: {method} {url} needs {required?.ToString() ?? "nothing"}; got {(int)response.StatusCode} {body}";
                body.Should().NotContain("\"code\":\"antiforgery\"", where);
                body.Should().NotContain("setup-required", where);

                if (endpoint.Metadata.GetMetadata<BuildTicketMetadata>() is not null)
                {
                    // Host wrapper endpoints: no session or API token opens them, only a running build's ticket.
                    response.StatusCode.Should().Be(HttpStatusCode.Unauthorized, where);
                }
                else if (required is null || role >= required)
                {
                    response.StatusCode.Should().NotBe(HttpStatusCode.Unauthorized, where).And.NotBe(HttpStatusCode.Forbidden, where);
                }
                else if (role is null)
                {
                    response.StatusCode.Should().Be(HttpStatusCode.Unauthorized, where);
                }
                else
                {
                    response.StatusCode.Should().Be(HttpStatusCode.Forbidden, where);
                }

                checkedCalls++;
            }
        }

        checkedCalls.Should().BeGreaterThan(20 * callers.Count);
        foreach (var caller in callers)
        {
            caller.Client.Dispose();
        }
    }

    [Fact]
    public async Task The_openapi_document_shows_each_operation_s_role_and_security()
    {
        using var client = Fresh.CreateClient();
        var document = await client.GetFromJsonAsync<JsonElement>("/swagger/v1/swagger.json");
        var operations = document.GetProperty("paths").EnumerateObject()
            .SelectMany(p => p.Value.EnumerateObject())
            .ToDictionary(o => o.Value.GetProperty("operationId").GetString()!, o => o.Value);

        document.GetProperty("components").GetProperty("securitySchemes").EnumerateObject().Select(s => s.Name)
            .Should().BeEquivalentTo(["apiToken", "sessionCookie"]);
        foreach (var endpoint in Endpoints(Fresh).Where(e => e.Metadata.GetMetadata<IEndpointNameMetadata>() is not null))
        {
            var name = endpoint.Metadata.GetMetadata<IEndpointNameMetadata>()!.EndpointName;
            if (!operations.TryGetValue(name, out var operation))
            {
                continue;
            }

            var role = endpoint.RequiredRole();
            operation.GetProperty("x-required-role").GetString().Should().Be(role?.Name() ?? "anonymous", name);
            operation.TryGetProperty("security", out var security).Should().Be(role is not null, name);
            if (role is not null)
            {
                security.EnumerateArray().SelectMany(r => r.EnumerateObject().Select(p => p.Name)).Should().BeEquivalentTo(["apiToken", "sessionCookie"], name);
                operation.GetProperty("responses").TryGetProperty("403", out _).Should().BeTrue(name);
            }
        }

        operations.Should().ContainKey("CreateApiToken");
    }

    internal static IReadOnlyList<RouteEndpoint> Endpoints(ProvisionerApp app) =>
        [.. app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()];

    /// <summary>One call per endpoint and method, with plausible route values; sign-out last (it ends the session of the caller).</summary>
    internal static IEnumerable<(RouteEndpoint Endpoint, HttpMethod Method, string Url)> Calls(IEnumerable<RouteEndpoint> endpoints) =>
        endpoints
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(m => (Endpoint: e, Method: new HttpMethod(m), Url: Url(e.RoutePattern))))
            .OrderBy(c => c.Url.Contains("sign-out", StringComparison.Ordinal))
            .ToList();

    /// <summary>A request with an empty body of the type the endpoint accepts (routing skips endpoints whose content type does not match).</summary>
    internal static HttpRequestMessage Request(Endpoint endpoint, HttpMethod method, string url)
    {
        var request = new HttpRequestMessage(method, url);
        if (method != HttpMethod.Get && method != HttpMethod.Head)
        {
            var contentType = endpoint.Metadata.GetMetadata<IAcceptsMetadata>()?.ContentTypes.FirstOrDefault() ?? "application/json";
            request.Content = contentType == "application/json"
                ? JsonContent.Create(new { })
                : new StringContent("", System.Text.Encoding.UTF8, contentType);
        }

        return request;
    }

    internal static string Describe(RouteEndpoint endpoint) => endpoint.DisplayName ?? endpoint.RoutePattern.RawText ?? "?";

    private static string Url(RoutePattern pattern) =>
        "/" + string.Join("/", pattern.PathSegments.Select(segment => string.Concat(segment.Parts.Select(part => part switch
        {
            RoutePatternLiteralPart literal => literal.Content,
            RoutePatternSeparatorPart separator => separator.Content,
            RoutePatternParameterPart parameter => Sample(parameter),
            _ => throw new InvalidOperationException(part.GetType().Name),
        }))));

    // Ids that do not exist: a matrix call must never revoke, disable or change what the callers use.
    private static string Sample(RoutePatternParameterPart parameter) =>
        parameter.ParameterPolicies.Any(p => p.Content is "int" or "long") ? "999999"
        : parameter.Name switch
        {
            "release" => "2026.06",
            "node" => "pve",
            _ => "matrix",
        };
}
