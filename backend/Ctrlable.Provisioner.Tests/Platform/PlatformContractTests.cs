using System.Reflection;
using Ctrlable.Provisioner.State;

namespace Ctrlable.Provisioner.Tests.Platform;

public sealed class PlatformContractTests
{
    [Fact]
    public void Every_instance_state_the_site_can_store_is_one_the_contract_allows()
    {
        var stored = typeof(InstanceStates).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(string)).Select(f => (string)f.GetRawConstantValue()!).ToList();
        var allowed = PlatformContract.Document["components"]!["schemas"]!["Instance"]!["properties"]!["state"]!["enum"]!.AsArray()
            .Select(v => v!.GetValue<string>()).ToList();

        stored.Should().HaveCountGreaterThan(10);
        allowed.Should().BeEquivalentTo(stored, "a report with a state outside the contract is refused by the platform");
    }
}
