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
                SimulatedProxmoxHost.GuestListenerPortKey,
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
            [SimulatedProxmoxHost.GuestListenerPortKey] = "8443",
            ["HomeAssistant:Ports:0"] = "8123",
            ["HomeAssistant:Ports:1"] = "80",
        }).Build();

        SimulatedProxmoxHost.FreeDemoPorts(configuration).Keys.Should().OnlyContain(k => k.StartsWith("Dashboard:AppPorts:", StringComparison.Ordinal)).And.HaveCount(5);

        configuration["Dashboard:AppPorts:zwavejs"] = "8091";
        SimulatedProxmoxHost.FreeDemoPorts(configuration).Should().BeEmpty();
    }

    [Fact]
    public void A_restart_on_the_same_data_directory_takes_the_same_ports_while_they_are_free()
    {
        var data = Directory.CreateTempSubdirectory("ctrlable-demo-ports-");
        try
        {
            var empty = new ConfigurationBuilder().Build();
            var first = SimulatedProxmoxHost.FreeDemoPorts(empty, data.FullName);
            File.Exists(Path.Combine(data.FullName, "demo-ports.json")).Should().BeTrue();

            SimulatedProxmoxHost.FreeDemoPorts(empty, data.FullName).Should().Equal(first, "the guests' first boot was given the orchestrator's URL with this port");

            // Another program took the guests' listener's port meanwhile: a free one instead, kept from now on.
            var taken = int.Parse(first[SimulatedProxmoxHost.GuestListenerPortKey]!, System.Globalization.CultureInfo.InvariantCulture);
            using var other = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, taken);
            try
            {
                other.Start();
            }
            catch (System.Net.Sockets.SocketException ex) when (ex.SocketErrorCode == System.Net.Sockets.SocketError.AddressAlreadyInUse)
            {
                // A test running beside this one took the port first: it is taken all the same.
            }

            var moved = SimulatedProxmoxHost.FreeDemoPorts(empty, data.FullName);
            moved[SimulatedProxmoxHost.GuestListenerPortKey].Should().NotBe(first[SimulatedProxmoxHost.GuestListenerPortKey]);
            moved.Where(p => p.Key != SimulatedProxmoxHost.GuestListenerPortKey).Should().BeEquivalentTo(first.Where(p => p.Key != SimulatedProxmoxHost.GuestListenerPortKey));
            other.Stop();
            SimulatedProxmoxHost.FreeDemoPorts(empty, data.FullName).Should().Equal(moved);

            // A file that does not read is replaced, not fatal.
            File.WriteAllText(Path.Combine(data.FullName, "demo-ports.json"), "{\"Simulator:GuestListenerPort\": ");
            var fresh = SimulatedProxmoxHost.FreeDemoPorts(empty, data.FullName);
            fresh.Keys.Should().BeEquivalentTo(first.Keys);
            SimulatedProxmoxHost.FreeDemoPorts(empty, data.FullName).Should().Equal(fresh);
        }
        finally
        {
            data.Delete(recursive: true);
        }
    }
}
