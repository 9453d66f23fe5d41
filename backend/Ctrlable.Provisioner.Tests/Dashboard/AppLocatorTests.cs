using Ctrlable.Provisioner.Dashboard;
using Ctrlable.Provisioner.Provision;
using Ctrlable.Provisioner.State;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Tests.Dashboard;

public sealed class AppLocatorTests
{
    private static InstanceRow Instance(string type, string? ip, string? appUrl = null) => new(
        1, 1, null, type, null, "site-" + type, 101, 9001, "pve", null, ip, InstanceStates.Active, "2026.06", null, null, null, null, null,
        DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, false, null, appUrl);

    private static AppLocator Locator(Dictionary<string, int>? ports = null) =>
        new(Options.Create(new DashboardOptions { AppPorts = ports ?? [] }));

    [Theory]
    [InlineData(TemplateTypes.ZwaveJs, "10.1.2.3", "http://10.1.2.3:8091/")]
    [InlineData(TemplateTypes.FreePbx, "10.1.2.3", "http://10.1.2.3/")]
    [InlineData(TemplateTypes.DockerPortainer, "fd00::5", "https://[fd00::5]:9443/")]
    [InlineData(TemplateTypes.Frigate, "fd00::5", "http://[fd00::5]:5000/")]
    public void An_app_is_located_at_its_guest_s_address_and_its_type_s_port(string type, string ip, string url) =>
        Locator().Locate(Instance(type, ip))!.Url.ToString().Should().Be(url);

    [Fact]
    public void A_configured_port_replaces_the_type_s_default_and_home_assistant_is_where_its_deploy_located_it()
    {
        Locator(new() { [TemplateTypes.FreePbx] = 8080 }).Locate(Instance(TemplateTypes.FreePbx, "10.1.2.3"))!.Url.ToString().Should().Be("http://10.1.2.3:8080/");
        Locator().Locate(Instance(TemplateTypes.CtrlablePro, "10.1.2.4", "http://10.1.2.4:8123/"))!.Url.ToString().Should().Be("http://10.1.2.4:8123/");
        Locator().Locate(Instance(TemplateTypes.ZwaveJs, null)).Should().BeNull("an instance without an address has no app to reach yet");
    }
}
