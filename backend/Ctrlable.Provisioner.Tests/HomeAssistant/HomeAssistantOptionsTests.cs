using Ctrlable.Provisioner.HomeAssistant;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Tests.HomeAssistant;

public sealed class HomeAssistantOptionsTests
{
    [Fact]
    public void Configured_ports_replace_the_default_instead_of_adding_to_it()
    {
        using var app = new ProvisionerApp(settings: new Dictionary<string, string?> { ["HomeAssistant:Ports:0"] = "18123" });

        app.Service<IOptions<HomeAssistantOptions>>().Value.ProbePorts.Should().Equal(18123);
        new HomeAssistantOptions().ProbePorts.Should().Equal(8123, 80);
    }

    [Fact]
    public void Bad_ports_and_durations_are_refused_one_line_each()
    {
        var result = new HomeAssistantOptionsValidator().Validate(null, new HomeAssistantOptions { Ports = [0, 80], PollIntervalSeconds = 0, RestoreTimeoutSeconds = -1 });

        result.Failed.Should().BeTrue();
        result.Failures.Should().HaveCount(3);
        result.Failures.Should().Contain(f => f.StartsWith("HomeAssistant:Ports must list", StringComparison.Ordinal))
            .And.Contain("HomeAssistant:PollIntervalSeconds must be more than 0 seconds (got 0).");
        new HomeAssistantOptionsValidator().Validate(null, new HomeAssistantOptions()).Succeeded.Should().BeTrue();
    }
}
