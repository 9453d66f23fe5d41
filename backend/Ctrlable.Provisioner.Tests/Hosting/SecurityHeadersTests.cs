using System.Text.RegularExpressions;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Hosting;

public sealed class SecurityHeadersTests : IDisposable
{
    private readonly ProvisionerApp _app = new();

    public void Dispose() => _app.Dispose();

    [Theory]
    [InlineData("/healthz")]
    [InlineData("/api/releases")]
    [InlineData("/api/does-not-exist")]
    [InlineData("/swagger/index.html")]
    public async Task Every_response_carries_the_security_headers(string path)
    {
        using var client = _app.CreateClient();

        var response = await client.GetAsync(path);

        var csp = response.Headers.GetValues("Content-Security-Policy").Single();
        csp.Should().Contain("frame-ancestors 'none'").And.Contain("script-src 'self';").And.Contain("object-src 'none'");
        Regex.Match(csp, "script-src[^;]*").Value.Should().NotContain("unsafe");
        response.Headers.GetValues("X-Content-Type-Options").Should().Equal("nosniff");
        response.Headers.GetValues("X-Frame-Options").Should().Equal("DENY");
        response.Headers.GetValues("Referrer-Policy").Should().Equal("no-referrer");
    }

    [Fact]
    public async Task Swagger_ui_runs_without_inline_scripts()
    {
        using var client = _app.CreateClient();

        var html = await client.GetStringAsync("/swagger/index.html");

        Regex.Matches(html, "<script(?![^>]*\\bsrc=)[^>]*>").Should().BeEmpty("the CSP allows no inline script");
    }
}
