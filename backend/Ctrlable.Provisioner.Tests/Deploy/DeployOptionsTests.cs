using Ctrlable.Provisioner.Deploy;
using Ctrlable.Provisioner.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace Ctrlable.Provisioner.Tests.Deploy;

public sealed class DeployOptionsTests
{
    [Fact]
    public void The_back_off_defaults_to_six_attempts_from_one_second_and_is_bound_from_the_configuration()
    {
        var defaults = new DeployOptions();
        defaults.TransientAttempts.Should().Be(6);
        defaults.RetryDelaySeconds.Should().Be(1);
        new DeployOptionsValidator().Validate(null, defaults).Succeeded.Should().BeTrue();

        using var app = new ProvisionerApp(settings: new Dictionary<string, string?> { ["Deploy:TransientAttempts"] = "3", ["Deploy:RetryDelaySeconds"] = "0.25" });
        var bound = app.Service<IOptions<DeployOptions>>().Value;
        bound.TransientAttempts.Should().Be(3);
        bound.RetryDelaySeconds.Should().Be(0.25);
    }

    [Fact]
    public void Settings_out_of_bounds_are_refused_one_line_each()
    {
        var result = new DeployOptionsValidator().Validate(null, new DeployOptions
        {
            VmidMin = 9000,
            VmidMax = 1000,
            FirstBootTimeoutSeconds = 0,
            TaskTimeoutSeconds = -1,
            TransientAttempts = 0,
            RetryDelaySeconds = 61,
        });

        result.Failures.Should().Equal(
            "Deploy:VmidMin and Deploy:VmidMax must be VMIDs between 100 and 999999999, VmidMin not above VmidMax (got 9000 and 1000).",
            "Deploy:FirstBootTimeoutSeconds must be more than 0 seconds (got 0).",
            "Deploy:TaskTimeoutSeconds must be more than 0 seconds (got -1).",
            "Deploy:TransientAttempts must be between 1 and 10 (got 0).",
            "Deploy:RetryDelaySeconds must be more than 0 and at most 60 seconds (got 61).");
        new DeployOptionsValidator().Validate(null, new DeployOptions { TransientAttempts = 11 }).Failures.Should().ContainSingle()
            .Which.Should().StartWith("Deploy:TransientAttempts");
    }
}
