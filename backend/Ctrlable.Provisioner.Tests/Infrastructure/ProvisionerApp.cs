using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Proxmox;
using Ctrlable.Provisioner.Tls;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Mvc.Testing.Handlers;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ctrlable.Provisioner.Tests.Infrastructure;

/// <summary>How a test client authenticates.</summary>
public enum Via
{
    /// <summary><c>Authorization: Bearer ctp_...</c> — an integrator API token.</summary>
    Token,

    /// <summary>A signed-in browser session: session cookie plus the antiforgery header on every POST/PUT/DELETE.</summary>
    Cookie,
}

/// <summary>
/// The orchestrator in-process (its demo build: the emulator stands in when a test configures no Proxmox host), on its own SQLite file and its own releases directory, so tests
/// run in parallel without sharing state.
/// <code>
/// using var app = new ProvisionerApp();
/// using var operatorClient = await app.CreateClientAsync(Role.Operator);           // API token
/// using var adminBrowser = await app.CreateClientAsync(Role.Admin, Via.Cookie);    // session + CSRF header
/// using var anonymous = app.CreateClient();                                        // no credentials
/// </code>
/// A new app is not set up (every protected endpoint answers 503); <see cref="CreateClientAsync"/> and
/// <see cref="EnsureSetUpAsync"/> create the first admin (<see cref="AdminName"/>/<see cref="AdminPassword"/>).
/// </summary>
internal sealed class ProvisionerApp : WebApplicationFactory<Ctrlable.Provisioner.Demo.DemoProgram>
{
    public const string AdminName = "admin";
    public const string AdminPassword = "first-admin-Passw0rd";
    public const string UserPassword = "user-Passw0rd-for-tests";

    private readonly Dictionary<string, string?> _settings;
    private readonly TimeProvider? _time;
    private readonly Action<IServiceCollection>? _services;
    private readonly bool _https;
    private int _users;

    /// <param name="releasesDirectory">Release manifests; default the repository's releases/.</param>
    /// <param name="settings">Configuration overrides, e.g. <c>["Auth:LockoutThreshold"] = "3"</c>.</param>
    /// <param name="time">Replaces <see cref="TimeProvider"/> (e.g. a FakeTimeProvider for expiry tests).</param>
    /// <param name="dataDirectory">Reuse a data directory (restart tests); default a fresh temporary one.</param>
    /// <param name="services">Extra service registrations, applied after the app's own.</param>
    /// <param name="kestrelUrls">Serve on real sockets (Kestrel) at these listen URLs instead of the in-memory test server; call StartServer().</param>
    /// <param name="https">
    /// Real Kestrel on 127.0.0.1 instead of the in-memory test server — plain HTTP for the factory's clients and HTTPS
    /// (free ports) for callers that need a real TLS socket: guests and the first-boot script (<see cref="HttpsAddress"/>,
    /// <see cref="CreateHttpsClient"/>).
    /// </param>
    public ProvisionerApp(string? releasesDirectory = null, IDictionary<string, string?>? settings = null, TimeProvider? time = null, string? dataDirectory = null, Action<IServiceCollection>? services = null,
        string? kestrelUrls = null, bool https = false)
    {
        if (kestrelUrls is not null || https)
        {
            UseKestrel();
        }

        _services = services;
        DataDirectory = dataDirectory ?? TempDirectory.Create("data");
        OwnsDataDirectory = dataDirectory is null;
        ReleasesDirectory = releasesDirectory ?? RepoPaths.Releases;
        _time = time;
        _settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Storage:DataDirectory"] = DataDirectory,
            ["Storage:ReleasesDirectory"] = ReleasesDirectory,
            // Tests sign in often from one address; the rate-limit test sets its own limit.
            ["Auth:SignInPermitLimit"] = "100000",
            // Tests create hundreds of accounts: 600,000 PBKDF2 rounds each would cost minutes. The hashing tests set
            // the production figure back.
            ["Auth:PasswordHashIterations"] = "1000",
            ["Auth:TestingOnlyAllowWeakPasswordHashing"] = "true",
        };
        _https = https;
        if (https)
        {
            // HTTPS for guests (first, so it is the URL guests are given); plain HTTP for the factory's own clients
            // (CreateClient, CreateClientAsync: see ConfigureClient), which then need no certificate trust.
            _settings["urls"] = "https://127.0.0.1:0;http://127.0.0.1:0";
        }

        if (kestrelUrls is not null)
        {
            _settings["urls"] = kestrelUrls;
        }

        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            _settings[key] = value;
        }
    }

    /// <summary>https://127.0.0.1:PORT of an <c>https: true</c> app (starts it).</summary>
    public Uri HttpsAddress => ServerAddress("https://");

    /// <summary>http://127.0.0.1:PORT of an app on real sockets (<c>kestrelUrls</c> or <c>https: true</c>; starts it).</summary>
    public Uri HttpAddress => ServerAddress("http://");

    private Uri ServerAddress(string scheme)
    {
        StartServer();
        var addresses = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        return new Uri(addresses.First(a => a.StartsWith(scheme, StringComparison.Ordinal)));
    }

    /// <summary>
    /// A client of an <c>https: true</c> app over a real socket, trusting exactly the orchestrator's certificate, and
    /// connecting from <paramref name="source"/> when given (a 127.x address: the way a simulated guest calls).
    /// </summary>
    public HttpClient CreateHttpsClient(IPAddress? source = null)
    {
        var address = HttpsAddress;
        var fingerprint = Service<TlsCertificate>().Fingerprint;
        var handler = new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && ProxmoxConnection.FingerprintOf(certificate) == fingerprint },
            ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    if (source is not null)
                    {
                        socket.Bind(new IPEndPoint(source, 0));
                    }

                    await socket.ConnectAsync(context.DnsEndPoint, ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return new HttpClient(handler) { BaseAddress = address };
    }

    public string DataDirectory { get; }
    public bool OwnsDataDirectory { get; }
    public string ReleasesDirectory { get; }
    public string DatabasePath => Path.Combine(DataDirectory, "provisioner.db");

    /// <summary>Where the app keeps the first admin's one-time set-up code while no admin exists.</summary>
    public string SetupCodePath => Path.Combine(DataDirectory, "setup-code");

    /// <summary>The set-up code the started app waits for (as the operator reads it from the file).</summary>
    public string SetupCode
    {
        get
        {
            _ = Services;
            return File.ReadAllText(SetupCodePath).Trim();
        }
    }

    /// <summary>Every log message the app wrote, at every level (for the secrets-not-in-logs test).</summary>
    public CapturedLogs Logs { get; } = new();

    public T Service<T>()
        where T : notnull => Services.GetRequiredService<T>();

    /// <summary>Creates the first admin unless one exists.</summary>
    public async Task EnsureSetUpAsync()
    {
        if (!await Service<SetupState>().IsDoneAsync())
        {
            await Service<AccountService>().CreateFirstAdminAsync(AdminName, AdminPassword, CancellationToken.None);
        }
    }

    /// <summary>A client with the given role: a fresh API token, or a fresh user signed in with a session cookie.</summary>
    public async Task<HttpClient> CreateClientAsync(Role role, Via via = Via.Token)
    {
        await EnsureSetUpAsync();
        if (via == Via.Token)
        {
            return CreateTokenClient(await CreateTokenAsync(role));
        }

        var username = await CreateUserAsync(role);
        return await SignInAsync(username, UserPassword);
    }

    /// <summary>Issues an API token directly (no HTTP) and returns the token itself.</summary>
    public async Task<string> CreateTokenAsync(Role role, DateTimeOffset? expiresAt = null, string? name = null)
    {
        await EnsureSetUpAsync();
        var issued = await Service<ApiTokenService>().IssueAsync(name ?? $"test {role.Name()}", role, expiresAt, AdminName, CancellationToken.None);
        return issued.Token;
    }

    /// <summary>Creates a user with <see cref="UserPassword"/> directly (no HTTP) and returns the user name.</summary>
    public async Task<string> CreateUserAsync(Role role, string? username = null)
    {
        await EnsureSetUpAsync();
        username ??= $"{role.Name()}-{Interlocked.Increment(ref _users)}";
        _ = await Service<AccountService>().CreateAsync(username, UserPassword, role, CancellationToken.None)
            ?? throw new InvalidOperationException($"user {username} exists");
        return username;
    }

    public HttpClient CreateTokenClient(string token)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", token);
        return client;
    }

    /// <summary>A browser-like client: keeps cookies and, unless <paramref name="antiforgery"/> is false, fetches and sends the CSRF header.</summary>
    public HttpClient CreateBrowserClient(bool antiforgery = true) =>
        antiforgery ? CreateDefaultClient(new AntiforgeryHandler(), new CookieContainerHandler()) : CreateDefaultClient(new CookieContainerHandler());

    /// <summary>Signs in through the API and returns the browser client holding the session.</summary>
    public async Task<HttpClient> SignInAsync(string username, string password)
    {
        var client = CreateBrowserClient();
        var response = await client.PostAsJsonAsync("/api/auth/sign-in", new { username, password });
        if (!response.IsSuccessStatusCode)
        {
            client.Dispose();
            throw new InvalidOperationException($"sign-in of {username} failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        return client;
    }

    /// <summary>On Kestrel, the factory's clients talk plain HTTP on loopback (they need no certificate trust).</summary>
    protected override void ConfigureClient(HttpClient client)
    {
        base.ConfigureClient(client);
        if (_https)
        {
            client.BaseAddress = ServerAddress("http://");
        }
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        // Not Development: clients must see problem+json, never the developer exception page.
        builder.UseEnvironment("Testing");
        // The entry point is the demo's (emulator when no Proxmox host is configured); the content root stays the product's.
        builder.UseContentRoot(RepoPaths.Product);
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureLogging(logging => logging.AddProvider(Logs).AddFilter<CapturedLogs>(null, LogLevel.Trace));
        builder.ConfigureTestServices(services =>
        {
            if (_time is not null)
            {
                services.AddSingleton(_time);
            }

            _services?.Invoke(services);
        });
    }

    /// <summary>Settings that point the orchestrator at an emulator with the given token.</summary>
    public static Dictionary<string, string?> ProxmoxSettings(Ctrlable.PveSim.PveSimulator sim, Ctrlable.PveSim.Auth.ApiTokenCredentials token, string node = "pve1") => new()
    {
        ["Proxmox:Url"] = sim.BaseAddress.ToString(),
        ["Proxmox:TokenId"] = token.TokenId,
        ["Proxmox:TokenSecret"] = token.Secret,
        ["Proxmox:CertificateFingerprint"] = sim.CertificateFingerprint,
        ["Proxmox:Node"] = node,
    };

    /// <summary>
    /// Settings that point the orchestrator at an emulator instead of the built-in demo host, and at the ports its Home
    /// Assistant guests (polled quickly: the emulator's phases are short) and its guests' apps listen on.
    /// </summary>
    public static Dictionary<string, string?> ProxmoxSettings(ProxmoxHarness pve)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Proxmox:Url"] = pve.Sim.BaseAddress.ToString(),
            ["Proxmox:TokenId"] = pve.Connection.TokenId,
            ["Proxmox:TokenSecret"] = pve.Connection.TokenSecret,
            ["Proxmox:CertificateFingerprint"] = pve.Connection.CertificateFingerprint,
            ["Proxmox:Node"] = "pve1",
            ["HomeAssistant:PollIntervalSeconds"] = "0.1",
        };
        if (pve.Sim.HomeAssistantPorts is { } ports)
        {
            settings["HomeAssistant:Ports:0"] = ports.LegacyPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
            settings["HomeAssistant:Ports:1"] = ports.HttpPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        // The dashboard's app health probes the emulated guests' apps where they listen.
        foreach (var (type, port) in pve.Sim.AppPorts ?? new Dictionary<string, int>())
        {
            settings[$"Dashboard:AppPorts:{type}"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return settings;
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing && OwnsDataDirectory)
        {
            TempDirectory.TryDelete(DataDirectory);
        }
    }

    /// <summary>Adds the antiforgery header to state-changing requests, fetching a fresh token each time (it is bound to the signed-in user).</summary>
    private sealed class AntiforgeryHandler : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Method != HttpMethod.Get && request.Method != HttpMethod.Head && !request.Headers.Contains(AccessControl.AntiforgeryHeader))
            {
                using var tokenRequest = new HttpRequestMessage(HttpMethod.Get, new Uri(request.RequestUri!, "/api/auth/antiforgery"));
                using var response = await base.SendAsync(tokenRequest, cancellationToken);
                response.EnsureSuccessStatusCode();
                var body = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
                request.Headers.Add(body.GetProperty("headerName").GetString()!, body.GetProperty("token").GetString());
            }

            return await base.SendAsync(request, cancellationToken);
        }
    }
}

/// <summary>Keeps every formatted log message (with exceptions, and the values of its scopes after "scope:") in memory.</summary>
internal sealed class CapturedLogs : ILoggerProvider, ISupportExternalScope
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _lines = new();
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    public IReadOnlyList<string> Lines => [.. _lines];

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _lines, () => _scopes);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose()
    {
    }

    private sealed class Logger(string category, System.Collections.Concurrent.ConcurrentQueue<string> lines, Func<IExternalScopeProvider> scopes) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => scopes().Push(state);

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var structured = state is IReadOnlyList<KeyValuePair<string, object?>> values ? string.Join(" ", values.Select(v => $"{v.Key}={v.Value}")) : "";
            var scope = new List<string>();
            scopes().ForEachScope((s, all) =>
            {
                if (s is IEnumerable<KeyValuePair<string, object?>> pairs)
                {
                    all.AddRange(pairs.Where(p => p.Key != "{OriginalFormat}").Select(p => $"{p.Key}={p.Value}"));
                }
            }, scope);
            lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {structured} {exception}{(scope.Count > 0 ? " scope: " + string.Join(" ", scope) : "")}");
        }
    }
}
