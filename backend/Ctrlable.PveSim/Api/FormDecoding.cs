using System.Text;
using System.Text.Json.Nodes;

namespace Ctrlable.PveSim.Api;

/// <summary>
/// pveproxy's <c>decode_urlencoded</c> (pve-http-server src/PVE/APIServer/AnyEvent.pm, commit 5c9e4ea7): pairs split on
/// <c>&amp;</c> and <c>;</c>, each pair split on <c>=</c> keeping only the first two fields (Perl's
/// <c>my ($k, $v) = split(/=/, $kv)</c>), <c>+</c> and <c>%XX</c> decoded. So a raw <c>=</c> or <c>;</c> inside a value
/// cuts it (<c>net0=name=eth0,…</c> arrives as <c>net0=name</c>; <c>tags=a;b</c> as <c>tags=a</c> and a parameter
/// <c>b</c>), which Proxmox then refuses: a client must percent-encode both.
/// </summary>
public static class FormDecoding
{
    /// <summary>
    /// Adds the parameters of <paramref name="encoded"/> to <paramref name="result"/>, replacing what is there. A pair
    /// without <c>=</c> gives a parameter with no value (JSON null, as Perl's undef); a repeated key's values are joined
    /// with NUL, as CGI does, which split_list understands.
    /// </summary>
    public static void Add(Dictionary<string, JsonNode?> result, string encoded)
    {
        var seen = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var pair in encoded.Split('&', ';'))
        {
            if (pair.Length == 0)
            {
                continue;
            }

            var fields = pair.Split('=', 3);
            var key = Unescape(fields[0]);
            if (fields.Length == 1)
            {
                seen.Remove(key);
                result[key] = null;
                continue;
            }

            var value = Unescape(fields[1]);
            if (!seen.TryGetValue(key, out var values))
            {
                seen[key] = values = [];
            }

            values.Add(value);
            result[key] = JsonValue.Create(string.Join('\0', values));
        }
    }

    /// <summary><c>+</c> as a space and each valid <c>%XX</c> as its byte, then the bytes as UTF-8; an invalid escape stays as written.</summary>
    private static string Unescape(string text)
    {
        if (text.IndexOfAny(['+', '%']) < 0)
        {
            return text;
        }

        var bytes = new List<byte>(text.Length);
        var run = 0; // start of the text not yet copied
        for (var i = 0; i < text.Length; i++)
        {
            var escape = text[i] == '%' && i + 2 < text.Length && Uri.IsHexDigit(text[i + 1]) && Uri.IsHexDigit(text[i + 2]);
            if (text[i] != '+' && !escape)
            {
                continue;
            }

            bytes.AddRange(Encoding.UTF8.GetBytes(text[run..i]));
            bytes.Add(escape ? Convert.ToByte(text.Substring(i + 1, 2), 16) : (byte)' ');
            i += escape ? 2 : 0;
            run = i + 1;
        }

        bytes.AddRange(Encoding.UTF8.GetBytes(text[run..]));
        return Encoding.UTF8.GetString([.. bytes]);
    }
}
