using Ctrlable.Provisioner.Http;

namespace Ctrlable.Provisioner.Tests.Hosting;

public sealed class FieldPathTests
{
    [Theory]
    [InlineData("Settings.Cameras[0].StreamUrl", "settings.cameras[0].streamUrl")]
    [InlineData("Settings.network.vlan", "settings.network.vlan")]
    [InlineData("Settings.Addressing.DnsServers[1]", "settings.addressing.dnsServers[1]")]
    [InlineData("community_scripts_ref", "community_scripts_ref")]
    [InlineData("Url", "url")]
    public void A_property_path_becomes_the_fields_json_path(string property, string json) =>
        FieldPath.Of(property).Should().Be(json);

    [Fact]
    public void Two_rules_that_name_one_field_differently_give_one_key_with_both_messages()
    {
        var keyed = FieldPath.Keyed([new("Settings.Network.Vlan", ["first"]), new("Settings.network.vlan", ["second"]), new("Name", ["third"])]);

        keyed.Should().BeEquivalentTo(new Dictionary<string, string[]> { ["settings.network.vlan"] = ["first", "second"], ["name"] = ["third"] });
    }
}
