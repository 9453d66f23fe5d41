using System.Text.RegularExpressions;

namespace Ctrlable.Provisioner.Build;

/// <summary>
/// A structured progress line of host/ctrlable-build: <c>::ctrlable &lt;kind&gt; key=value ... [text=free text]</c>.
/// Values hold no spaces; <c>text</c>, when present, is last and runs to the end of the line. The wrapper prefixes
/// every line of a builder's output with <c>[template] </c>, so only the wrapper itself can write such a line.
/// </summary>
public sealed partial record ProgressLine(string Kind, IReadOnlyDictionary<string, string> Fields, string? Text)
{
    public const string Prefix = "::ctrlable ";

    public const string BuildStarted = "build-started";
    public const string Upstream = "upstream";
    public const string TemplateStarted = "template-started";
    public const string Step = "step";
    public const string TemplateDone = "template-done";
    public const string TemplateSkipped = "template-skipped";
    public const string TemplateFailed = "template-failed";
    public const string BuildDone = "build-done";
    public const string BuildFailed = "build-failed";

    // ctrlable-build --check (nothing else prints these).
    public const string CheckProblem = "check-problem";
    public const string CheckOk = "check-ok";
    public const string CheckDone = "check-done";

    public string? this[string key] => Fields.GetValueOrDefault(key);

    public int? Int(string key) => int.TryParse(this[key], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : null;

    /// <summary>The line as a progress line, or null when it is ordinary output (or malformed).</summary>
    public static ProgressLine? Parse(string line)
    {
        if (!line.StartsWith(Prefix, StringComparison.Ordinal) || line.Length > 4096)
        {
            return null;
        }

        var rest = line[Prefix.Length..];
        string? text = null;
        var at = rest.IndexOf(" text=", StringComparison.Ordinal);
        if (at >= 0)
        {
            text = rest[(at + " text=".Length)..].Trim();
            rest = rest[..at];
        }

        var words = rest.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0 || !KindPattern().IsMatch(words[0]))
        {
            return null;
        }

        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var word in words.Skip(1))
        {
            var eq = word.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || !KeyPattern().IsMatch(word[..eq]))
            {
                return null;
            }

            fields[word[..eq]] = word[(eq + 1)..];
        }

        if (text is null && words.Length == 1 && rest.StartsWith("text=", StringComparison.Ordinal))
        {
            return null;
        }

        return new ProgressLine(words[0], fields, text);
    }

    [GeneratedRegex("^[a-z]+(-[a-z]+)*$")]
    private static partial Regex KindPattern();

    [GeneratedRegex("^[a-z_]+$")]
    private static partial Regex KeyPattern();
}
