using System.Reflection;
using Ctrlable.Provisioner.Config;
using Ctrlable.Provisioner.Tests.Infrastructure;

namespace Ctrlable.Provisioner.Tests.Config;

/// <summary>.env.example is the dealer's list of settings: every bound option must be in it.</summary>
public sealed class EnvExampleTests
{
    [Fact]
    public void Every_option_of_every_section_is_listed_in_env_example()
    {
        var example = File.ReadAllText(Path.Combine(RepoPaths.Root, ".env.example"));
        var sections = typeof(ProxmoxOptions).Assembly.GetTypes()
            .Select(t => (Type: t, Section: t.GetField("Section", BindingFlags.Public | BindingFlags.Static)?.GetRawConstantValue() as string))
            .Where(s => s.Section is not null && s.Type.Name.EndsWith("Options", StringComparison.Ordinal))
            .ToList();
        sections.Should().HaveCountGreaterThanOrEqualTo(10, "every options class declares its Section");

        var missing = sections
            .SelectMany(s => s.Type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Where(p => p.SetMethod is { IsPublic: true })
                .Select(p => $"CTRLABLE_{s.Section!.ToUpperInvariant()}__{p.Name.ToUpperInvariant()}"))
            .Where(name => !example.Contains(name, StringComparison.Ordinal))
            .ToList();

        missing.Should().BeEmpty();
    }
}
