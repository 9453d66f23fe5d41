using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Ctrlable.Provisioner.Auth;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Ctrlable.Provisioner.Tests.Auth;

/// <summary>
/// The first admin needs the one-time set-up code from the orchestrator's data directory: whoever reaches a fresh
/// orchestrator on the LAN first cannot make themselves its admin.
/// </summary>
public sealed partial class SetupCodeTests
{
    [Fact]
    public async Task Setup_without_the_code_or_with_a_wrong_one_is_refused_and_creates_nothing_the_right_one_works_once()
    {
        using var app = new ProvisionerApp();
        using var browser = app.CreateBrowserClient();

        var without = await browser.PostAsJsonAsync("/api/setup", new { username = "intruder", password = "a-long-Passphrase-42" });
        var wrong = await browser.PostAsJsonAsync("/api/setup", new { username = "intruder", password = "a-long-Passphrase-42", setupCode = "AAAAA-BBBBB-CCCCC-DDDDD" });
        var empty = await browser.PostAsJsonAsync("/api/setup", new { username = "intruder", password = "a-long-Passphrase-42", setupCode = "" });

        foreach (var refused in new[] { without, wrong, empty })
        {
            refused.StatusCode.Should().Be(HttpStatusCode.Forbidden);
            refused.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
            (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString().Should().Be("setup-code");
        }

        (await UserCountAsync(app)).Should().Be(0, "nothing was created");
        (await browser.GetFromJsonAsync<JsonElement>("/api/setup")).GetProperty("required").GetBoolean().Should().BeTrue();
        var code = app.SetupCode;
        code.Should().MatchRegex(CodeFormat().ToString(), "4 groups of 5 base32 characters: 100 random bits");
        File.GetUnixFileMode(app.SetupCodePath).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);

        // Typed by hand: lower case, without the dashes.
        var created = await browser.PostAsJsonAsync("/api/setup", new { username = "dealer", password = "a-long-Passphrase-42", setupCode = code.Replace("-", "", StringComparison.Ordinal).ToLowerInvariant() });

        created.StatusCode.Should().Be(HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        File.Exists(app.SetupCodePath).Should().BeFalse("the code is used up");
        (await UserCountAsync(app)).Should().Be(1);
        (await browser.PostAsJsonAsync("/api/setup", new { username = "second", password = "a-long-Passphrase-43", setupCode = code })).StatusCode.Should().Be(HttpStatusCode.Conflict);
        using var admin = await app.SignInAsync("dealer", "a-long-Passphrase-42");
        var audit = (await admin.GetFromJsonAsync<JsonElement>("/api/audit?pageSize=100")).GetProperty("items").EnumerateArray()
            .Where(e => e.GetProperty("route").GetString() == "/api/setup/").Select(e => $"{e.GetProperty("statusCode").GetInt32()} {e.GetProperty("target").GetString()}").Reverse();
        audit.Should().Equal(
            "403 set-up code missing or wrong", "403 set-up code missing or wrong", "403 set-up code missing or wrong", "201 user dealer", "409 ");
    }

    [Fact]
    public async Task Guessing_the_code_is_rate_limited_like_sign_in()
    {
        using var app = new ProvisionerApp(settings: new Dictionary<string, string?> { ["Auth:SignInPermitLimit"] = "3" });
        using var browser = app.CreateBrowserClient();
        for (var i = 0; i < 3; i++)
        {
            (await browser.PostAsJsonAsync("/api/setup", new { username = "intruder", password = "a-long-Passphrase-42", setupCode = $"GUESS-{i}" })).StatusCode.Should().Be(HttpStatusCode.Forbidden);
        }

        var limited = await browser.PostAsJsonAsync("/api/setup", new { username = "intruder", password = "a-long-Passphrase-42", setupCode = app.SetupCode });

        limited.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
        (await UserCountAsync(app)).Should().Be(0);
    }

    [Fact]
    public async Task The_start_that_creates_the_code_logs_it_once_and_later_starts_only_say_where_it_waits()
    {
        var data = TempDirectory.Create("setupcode-restarts");
        string code;
        using (var first = new ProvisionerApp(dataDirectory: data))
        {
            code = first.SetupCode;
            first.Logs.Lines.Where(l => l.Contains(code, StringComparison.Ordinal)).Should().ContainSingle()
                .Which.Should().StartWith("Warning ").And.Contain(first.SetupCodePath);
        }

        using (var second = new ProvisionerApp(dataDirectory: data))
        {
            second.SetupCode.Should().Be(code, "the waiting code stays until it is used");
            second.Logs.Lines.Should().NotContain(l => l.Contains(code, StringComparison.Ordinal));
            second.Logs.Lines.Should().ContainSingle(l => l.StartsWith("Warning ", StringComparison.Ordinal) && l.Contains(second.SetupCodePath, StringComparison.Ordinal));
            await second.EnsureSetUpAsync();
            File.Exists(second.SetupCodePath).Should().BeFalse();
        }

        using (var third = new ProvisionerApp(dataDirectory: data))
        {
            _ = third.Services;
            File.Exists(third.SetupCodePath).Should().BeFalse("an admin exists: no code is made again");
            third.Logs.Lines.Should().NotContain(l => l.Contains(third.SetupCodePath, StringComparison.Ordinal));
        }

        TempDirectory.TryDelete(data);
    }

    [Fact]
    public async Task The_command_prints_the_waiting_code_create_admin_needs_none_and_removes_it()
    {
        using var app = new ProvisionerApp();
        var code = app.SetupCode;
        var output = new StringWriter();
        var error = new StringWriter();

        (await SetupCodeCommand.RunAsync(app.Services, output, error)).Should().Be(0);
        output.ToString().Should().Be(code + Environment.NewLine);

        (await AdminCommand.RunAsync(app.Services, "root", "headless-Passw0rd", new StringReader(""), output, error)).Should().Be(0);
        File.Exists(app.SetupCodePath).Should().BeFalse("the headless admin uses the code up too");
        (await SetupCodeCommand.RunAsync(app.Services, output, error)).Should().Be(SetupCodeCommand.AdminExists);
        error.ToString().Should().Contain("an admin account exists already");
        File.Exists(app.SetupCodePath).Should().BeFalse();
    }

    [Fact]
    public void Two_creators_at_once_agree_on_one_code()
    {
        var data = TempDirectory.Create("setup-code-race");
        var storage = Microsoft.Extensions.Options.Options.Create(new Ctrlable.Provisioner.Config.StorageOptions { DataDirectory = data });
        var codes = Enumerable.Range(0, 8).AsParallel().Select(_ =>
            new SetupCode(storage, Microsoft.Extensions.Logging.Abstractions.NullLogger<SetupCode>.Instance).Ensure()).ToList();

        codes.Select(c => c.Code).Distinct().Should().ContainSingle();
        codes.Count(c => c.Created).Should().Be(1);
        Directory.GetFiles(data).Should().ContainSingle().Which.Should().EndWith(SetupCode.FileName, "no temporary file is left behind");
        TempDirectory.TryDelete(data);
    }

    private static async Task<long> UserCountAsync(ProvisionerApp app)
    {
        await using var db = new SqliteConnection($"Data Source={app.DatabasePath}");
        return await db.QuerySingleAsync<long>("SELECT count(*) FROM users;");
    }

    [GeneratedRegex("^[A-Z2-7]{5}(-[A-Z2-7]{5}){3}$")]
    private static partial Regex CodeFormat();
}
