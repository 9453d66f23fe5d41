using Ctrlable.Provisioner.Demo;
using Ctrlable.Provisioner.Provision;
using Microsoft.Extensions.Configuration;

namespace Ctrlable.Provisioner.Tests.Hosting;

public sealed class DemoPortsTests
{
    [Fact]
    public void Demo_mode_gives_home_assistant_and_every_other_app_a_port_of_its_own()
    {
        var ports = SimulatedProxmoxHost.FreeDemoPorts(new ConfigurationBuilder().Build());

        ports.Keys.Should().BeEquivalentTo(
            [
                "HomeAssistant:Ports:0", "HomeAssistant:Ports:1",
                $"Dashboard:AppPorts:{TemplateTypes.ZwaveJs}", $"Dashboard:AppPorts:{TemplateTypes.Zigbee2Mqtt}",
                $"Dashboard:AppPorts:{TemplateTypes.DockerPortainer}", $"Dashboard:AppPorts:{TemplateTypes.Frigate}",
                $"Dashboard:AppPorts:{TemplateTypes.FreePbx}",
            ]);
        ports.Values.Select(p => int.Parse(p!, System.Globalization.CultureInfo.InvariantCulture)).Should().OnlyHaveUniqueItems()
            .And.OnlyContain(p => p > 0 && p < 65536);
    }

    [Fact]
    public void Ports_set_in_the_configuration_are_left_as_they_are()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["HomeAssistant:Ports:0"] = "8123",
            ["HomeAssistant:Ports:1"] = "80",
        }).Build();

        SimulatedProxmoxHost.FreeDemoPorts(configuration).Keys.Should().OnlyContain(k => k.StartsWith("Dashboard:AppPorts:", StringComparison.Ordinal)).And.HaveCount(5);

        configuration["Dashboard:AppPorts:zwavejs"] = "8091";
        SimulatedProxmoxHost.FreeDemoPorts(configuration).Should().BeEmpty();
    }
}
