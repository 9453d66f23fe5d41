using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Ctrlable.Provisioner.Manifest;

/// <summary>A 1-based line and column in the YAML text.</summary>
internal readonly record struct Position(int Line, int Column)
{
    public static Position From(Mark mark) => new(ToInt(mark.Line), ToInt(mark.Column));

    private static int ToInt(long value) => value > int.MaxValue ? int.MaxValue : (int)value;
}

/// <summary>
/// A minimal YAML tree that keeps every node's position. We build it from the parser events
/// ourselves instead of using YamlStream because YamlStream aborts the whole load on the first
/// duplicate key; here a duplicate key is just one more error and the rest is still checked.
/// </summary>
internal abstract record YNode(Position Start);

/// <summary>A scalar; IsPlain means unquoted and untagged, and only such a scalar may be read as a number, a boolean or null.</summary>
internal sealed record YScalar(Position Start, string Value, bool IsPlain) : YNode(Start)
{
    public bool IsNull => IsPlain && (Value is "" or "~" or "null" or "Null" or "NULL");
}

internal sealed record YEntry(YScalar Key, YNode Value);

internal sealed record YMapping(Position Start, IReadOnlyList<YEntry> Entries) : YNode(Start);

internal sealed record YSequence(Position Start, IReadOnlyList<YNode> Items) : YNode(Start);

internal static partial class YamlTree
{
    // A release manifest is four levels deep; the cap keeps a hostile file from overflowing the stack.
    internal const int MaxDepth = 32;

    /// <summary>
    /// Parses one YAML document. Returns null when there is no document (empty file) or the
    /// YAML is malformed; a syntax error is reported once, at the parser's position, under the
    /// last path the loader reached.
    /// </summary>
    public static YNode? Load(string file, string yaml, List<ManifestError> errors)
    {
        var scanner = new Scanner(new StringReader(yaml));
        var loader = new Loader(new Parser(scanner), file, errors);
        try
        {
            return loader.LoadSingleDocument();
        }
        catch (YamlException ex)
        {
            SyntaxError(Position.From(ex.Start), CleanMessage(ex.Message));
            return null;
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner throws a bare InvalidOperationException (no message, no position)
            // when a flow collection's content falls below the current indentation, which is what an
            // unclosed '{' or '[' looks like. Only that case is known to raise it.
            SyntaxError(Position.From(scanner.CurrentPosition), "a flow collection ('{ }' or '[ ]') is not closed, or its content is indented too little");
            return null;
        }

        void SyntaxError(Position at, string message) =>
            errors.Add(new ManifestError(file, at.Line, at.Column, loader.NearestPath, "invalid YAML: " + message));
    }

    public static string Describe(YNode node) => node switch
    {
        YScalar s when s.IsNull => "nothing (null)",
        YScalar { IsPlain: false } s => $"the quoted string \"{s.Value}\"",
        YScalar s => $"'{s.Value}'",
        YMapping => "a mapping",
        YSequence => "a list",
        _ => node.GetType().Name,
    };

    // YamlDotNet prefixes messages with "(Line: 1, Col: 2, Idx: 3) - (Line: ...): "; we report the position ourselves.
    private static string CleanMessage(string message) => MarkPrefix().Replace(message, "");

    [GeneratedRegex(@"^\(Line: \d+, Col: \d+, Idx: \d+\) - \(Line: \d+, Col: \d+, Idx: \d+\): ")]
    private static partial Regex MarkPrefix();

    private sealed class Loader(IParser parser, string file, List<ManifestError> errors)
    {
        private readonly Dictionary<string, YNode> anchors = new(StringComparer.Ordinal);

        public string NearestPath { get; private set; } = "";

        public YNode? LoadSingleDocument()
        {
            parser.Consume<StreamStart>();
            if (parser.Accept<StreamEnd>(out _))
            {
                return null; // empty file or only comments
            }

            parser.Consume<DocumentStart>();
            var root = LoadNode("", depth: 0);
            parser.Consume<DocumentEnd>();
            if (parser.Accept<DocumentStart>(out var second))
            {
                Error(Position.From(second.Start), "", "a release file holds exactly one YAML document; remove the second '---' section");
            }

            return root;
        }

        private YNode LoadNode(string path, int depth)
        {
            NearestPath = path;
            var current = parser.Current ?? throw new YamlException("unexpected end of the YAML stream");
            if (depth > MaxDepth)
            {
                throw new YamlException(current.Start, current.End, $"nesting deeper than {MaxDepth} levels");
            }

            if (parser.TryConsume<AnchorAlias>(out var alias))
            {
                // An alias is the anchored node itself (no copy, so no blow-up); errors inside point at the anchor's text.
                return anchors.TryGetValue(alias.Value.Value, out var target)
                    ? target
                    : throw new YamlException(alias.Start, alias.End, $"alias '*{alias.Value.Value}' refers to no anchor defined before it");
            }

            YNode node;
            string anchor;
            if (parser.TryConsume<Scalar>(out var scalar))
            {
                node = new YScalar(Position.From(scalar.Start), scalar.Value, scalar.IsPlainImplicit);
                anchor = scalar.Anchor.IsEmpty ? "" : scalar.Anchor.Value;
            }
            else if (parser.TryConsume<SequenceStart>(out var sequenceStart))
            {
                var items = new List<YNode>();
                while (!parser.TryConsume<SequenceEnd>(out _))
                {
                    items.Add(LoadNode($"{path}[{items.Count}]", depth + 1));
                }

                node = new YSequence(Position.From(sequenceStart.Start), items);
                anchor = sequenceStart.Anchor.IsEmpty ? "" : sequenceStart.Anchor.Value;
            }
            else
            {
                var mappingStart = parser.Consume<MappingStart>();
                node = LoadMappingEntries(Position.From(mappingStart.Start), path, depth);
                anchor = mappingStart.Anchor.IsEmpty ? "" : mappingStart.Anchor.Value;
            }

            if (anchor.Length > 0)
            {
                anchors[anchor] = node;
            }

            return node;
        }

        private YMapping LoadMappingEntries(Position start, string path, int depth)
        {
            var entries = new List<YEntry>();
            var firstSeen = new Dictionary<string, Position>(StringComparer.Ordinal);
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                var keyNode = LoadNode(path, depth + 1);
                if (keyNode is not YScalar key)
                {
                    Error(keyNode.Start, path, "a key must be text, not " + Describe(keyNode));
                    LoadNode(path, depth + 1); // skip its value
                    continue;
                }

                var childPath = Join(path, key.Value);
                var value = LoadNode(childPath, depth + 1);
                if (firstSeen.TryGetValue(key.Value, out var first))
                {
                    // Keep the first definition; YAML forbids the second and silently taking either would hide a mistake.
                    Error(key.Start, childPath, $"duplicate key '{key.Value}' (first defined at line {first.Line})");
                    continue;
                }

                firstSeen.Add(key.Value, key.Start);
                entries.Add(new YEntry(key, value));
            }

            return new YMapping(start, entries);
        }

        private void Error(Position at, string path, string message) =>
            errors.Add(new ManifestError(file, at.Line, at.Column, path, message));
    }

    public static string Join(string parent, string key) => parent.Length == 0 ? key : parent + "." + key;
}
