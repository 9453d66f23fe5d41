using System.Text;
using Ctrlable.Provisioner.Manifest;

namespace Ctrlable.Provisioner.Tests.Manifest;

/// <summary>Malformed input must come back as errors, never as an exception (the catalog promises LoadAll never throws).</summary>
public sealed class ManifestFuzzTests
{
    private const string Alphabet = " \t\n:-{}[],#&*!|>'\"%@`?~0123456789abcxyz.\\";

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Mutated_manifests_never_throw(int seed)
    {
        var random = new Random(seed);
        var valid = ManifestYaml.Valid;
        for (var i = 0; i < Iterations; i++)
        {
            var text = new StringBuilder(valid);
            var edits = random.Next(1, 4);
            for (var e = 0; e < edits; e++)
            {
                var at = random.Next(text.Length);
                switch (random.Next(3))
                {
                    case 0:
                        text.Remove(at, Math.Min(random.Next(1, 6), text.Length - at));
                        break;
                    case 1:
                        text.Insert(at, Alphabet[random.Next(Alphabet.Length)]);
                        break;
                    default:
                        text[at] = Alphabet[random.Next(Alphabet.Length)];
                        break;
                }
            }

            var yaml = text.ToString();
            var act = () => ManifestParser.Parse("fuzz.yaml", yaml);

            var result = act.Should().NotThrow($"input:\n{yaml}").Subject;
            (result.IsValid || result.Errors.Count > 0).Should().BeTrue();
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Random_bytes_never_throw(int seed)
    {
        var random = new Random(seed);
        for (var i = 0; i < Iterations / 4; i++)
        {
            var bytes = new byte[random.Next(0, 200)];
            random.NextBytes(bytes);
            var yaml = Encoding.UTF8.GetString(bytes);

            var act = () => ManifestParser.Parse("fuzz.yaml", yaml);

            act.Should().NotThrow();
        }
    }

    private const int Iterations = 3_000;
}
