#!/usr/bin/env bash
# Pins a release manifest before it ships (SPEC §4 "Pinning a release"): records the commit community_scripts_ref
# points to, each Home Assistant OS template's image digest (haos_sha256, from GitHub's release API) and, for a builder
# that honours var_appversion, turns an N.x app_version into the newest matching release. It rewrites only those values,
# in place, line by line: comments, order and formatting stay as they are. Needs git, curl, jq and the network.
#
#   scripts/pin-release.sh [--dry-run] releases/<release>.yaml
#
# Overridable: UPSTREAM_URL (community-scripts' git URL), GITHUB_API_URL (https only), GITHUB_CA_BUNDLE (a CA file
# for the API's certificate), GITHUB_TOKEN (sent as a header only, never printed), BUILDERS_TABLE (what each builder
# does at a commit; the validator reads the same file).
set -euo pipefail
export LC_ALL=C # offsets in bytes, as awk counts them

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UPSTREAM_URL="${UPSTREAM_URL:-https://github.com/community-scripts/ProxmoxVE.git}"
GITHUB_API_URL="${GITHUB_API_URL:-https://api.github.com}"
GITHUB_CA_BUNDLE="${GITHUB_CA_BUNDLE:-}"
BUILDERS_TABLE="${BUILDERS_TABLE:-$repo_root/backend/Ctrlable.Provisioner/Manifest/upstream-builders.tsv}"
HAOS_REPO="home-assistant/operating-system"
HAOS_BUILDER="vm/haos-vm.sh"
MAX_PAGES=50 # 5000 releases: a bound on a Link chain that never ends

fail() {
  echo "pin-release: $*" >&2
  exit 1
}

usage() {
  echo "usage: scripts/pin-release.sh [--dry-run] releases/<release>.yaml" >&2
  exit 64
}

dry_run=0
file=""
for arg in "$@"; do
  case "$arg" in
  --dry-run) dry_run=1 ;;
  -*) usage ;;
  *) [[ -z $file ]] || usage; file=$arg ;;
  esac
done
[[ -n $file ]] || usage
[[ -f $file ]] || fail "$file: no such file"
for tool in git curl jq awk; do
  command -v "$tool" >/dev/null || fail "$tool is needed (apt-get install $tool)"
done
[[ $GITHUB_API_URL == https://* ]] || fail "GITHUB_API_URL must be an https:// URL, not '$GITHUB_API_URL'"
GITHUB_API_URL="${GITHUB_API_URL%/}"
[[ -z $GITHUB_CA_BUNDLE || -r $GITHUB_CA_BUNDLE ]] || fail "GITHUB_CA_BUNDLE '$GITHUB_CA_BUNDLE' is not a readable file"
[[ -r $BUILDERS_TABLE ]] || fail "the builders table '$BUILDERS_TABLE' is not readable"
if grep -q $'\r' "$file"; then fail "$file has CR line ends; convert it to LF first"; fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# --- Reading the manifest: the conventional block layout (top-level keys, templates at two spaces, their keys at four).
# Records, separated by \037 (so an empty value keeps its place): top KEY LINE VALUE START END QUOTE | tpl NAME LINE | fld NAME KEY LINE VALUE START END QUOTE |
# err LINE MESSAGE. START..END (1-based, inclusive) is the value as written, quotes included; QUOTE is ", ' or empty.
# shellcheck disable=SC2016 # the awk program is single-quoted on purpose
scan='
function value(rest, col,   q, cl, v, n) {
  # rest: the text after "key:"; col: its column. Sets V, VS, VE, VQ.
  n = match(rest, /[^ ]/); if (n == 0) { V = ""; VS = col; VE = col - 1; VQ = ""; return 1 }
  rest = substr(rest, n); col += n - 1; q = substr(rest, 1, 1)
  if (q == "\"" || q == sq) {
    cl = index(substr(rest, 2), q); if (cl == 0) return 0
    v = substr(rest, 2, cl - 1); if (q == "\"" && index(v, "\\") > 0) return 0
    V = v; VS = col; VE = col + cl; VQ = q; return 1
  }
  if (q == "{" || q == "[" || q == "&" || q == "*" || q == "|" || q == ">") return 0
  n = index(rest, " #"); v = (n > 0) ? substr(rest, 1, n - 1) : rest
  sub(/ +$/, "", v); V = v; VS = col; VE = col + length(v) - 1; VQ = ""; return 1
}
/^[ ]*(#.*)?$/ { next }
/^[A-Za-z_][A-Za-z0-9_]*:/ {
  key = $0; sub(/:.*/, "", key); intemplates = (key == "templates"); tpl = ""
  if (!intemplates && !value(substr($0, length(key) + 2), length(key) + 2)) { printf "err\037%d\037%s is not a plain scalar\n", NR, key; next }
  if (!intemplates) printf "top\037%s\037%d\037%s\037%d\037%d\037%s\n", key, NR, V, VS, VE, VQ
  next
}
intemplates && /^  [A-Za-z0-9_-]+:/ {
  name = $0; sub(/^  /, "", name); sub(/:.*/, "", name); rest = substr($0, length(name) + 4)
  if (rest !~ /^[ ]*(#.*)?$/) { printf "err\037%d\037template %s is not written as a block of keys\n", NR, name; tpl = ""; next }
  tpl = name; printf "tpl\037%s\037%d\n", name, NR; next
}
intemplates && tpl != "" && /^    [a-z_0-9]+:/ {
  key = $0; sub(/^    /, "", key); sub(/:.*/, "", key)
  if (!value(substr($0, length(key) + 6), length(key) + 6)) { V = "\001"; VS = 0; VE = 0; VQ = "" }
  printf "fld\037%s\037%s\037%d\037%s\037%d\037%d\037%s\n", tpl, key, NR, V, VS, VE, VQ; next
}
'
awk -v sq="'" "$scan" "$file" >"$work/scan" || fail "$file: could not be read"
declare -A top_line=() top_val=()
declare -A f_line=() f_val=() f_start=() f_end=() f_quote=()
templates=()
while IFS=$'\037' read -r kind a b c d e f g; do
  case "$kind" in
  err) fail "$file:$a: $b" ;;
  top) top_line[$a]=$b; top_val[$a]=$c ;;
  tpl) templates+=("$a") ;;
  fld) f_line[$a.$b]=$c; f_val[$a.$b]=$d; f_start[$a.$b]=$e; f_end[$a.$b]=$f; f_quote[$a.$b]=$g ;;
  esac
done <"$work/scan"
[[ -n ${top_line[community_scripts_ref]:-} ]] || fail "$file: no community_scripts_ref"

# --- GitHub's API: one GET, the body in $work/body, the Link header's next page (if any) in $work/next.
api_get() {
  local url=$1 code
  local -a auth=()
  # The token travels in a header read from a file only this user can read: never in argv, a log line or the output.
  if [[ -n ${GITHUB_TOKEN:-} ]]; then
    (umask 077 && printf 'Authorization: Bearer %s\n' "$GITHUB_TOKEN" >"$work/auth")
    auth=(-H "@$work/auth")
  fi
  local -a ca=()
  if [[ -n $GITHUB_CA_BUNDLE ]]; then ca=(--cacert "$GITHUB_CA_BUNDLE"); fi
  if ! code=$(curl -sS --proto '=https' --tlsv1.2 --max-time 60 "${ca[@]}" "${auth[@]}" \
    -H 'Accept: application/vnd.github+json' -H 'X-GitHub-Api-Version: 2022-11-28' \
    -D "$work/headers" -o "$work/body" -w '%{http_code}' "$url" 2>"$work/curl-error"); then
    fail "cannot reach $url: $(head -c 300 "$work/curl-error" | tr '\n' ' ')"
  fi
  sed -n 's/^[Ll]ink:.*<\([^>]*\)>; *rel="next".*/\1/p' "$work/headers" | tr -d '\r' >"$work/next"
  echo "$code"
}

# --- What to change: "LINE<TAB>NEW LINE" (replace) and "LINE<TAB>+<TAB>NEW LINE" (insert after), with a note for the log.
changes=()
notes=()
line_of() { sed -n "${1}p" "$file"; }
replace_value() { # LINE START END QUOTE NEW
  local text
  text=$(line_of "$1")
  changes+=("$1"$'\t'"${text:0:$(($2 - 1))}$4$5$4${text:$3}")
}

# 1. The commit the tag points to (an annotated tag's ^{} line is the commit).
ref=${top_val[community_scripts_ref]}
[[ $ref =~ ^([0-9]{4}-[0-9]{2}-[0-9]{2}|v[0-9]+\.[0-9]+(\.[0-9]+)?)$ ]] || fail "$file:${top_line[community_scripts_ref]}: community_scripts_ref '$ref' is not a tag (YYYY-MM-DD or vX.Y.Z)"
if ! remote=$(GIT_TERMINAL_PROMPT=0 git ls-remote "$UPSTREAM_URL" "refs/tags/$ref" "refs/tags/$ref^{}" 2>"$work/git-error"); then
  fail "cannot read the tags of $UPSTREAM_URL: $(head -c 300 "$work/git-error" | tr '\n' ' ')"
fi
commit=$(awk -v t="refs/tags/$ref^{}" '$2 == t { print $1 }' <<<"$remote")
[[ -n $commit ]] || commit=$(awk -v t="refs/tags/$ref" '$2 == t { print $1 }' <<<"$remote")
[[ $commit =~ ^[0-9a-f]{40}$ ]] || fail "tag '$ref' is not in $UPSTREAM_URL"
if [[ -n ${top_line[community_scripts_commit]:-} ]]; then
  recorded=${top_val[community_scripts_commit]}
  if [[ $recorded != "$commit" ]]; then
    fail "$file:${top_line[community_scripts_commit]}: tag '$ref' points to $commit, but the manifest records $recorded: the tag moved or the value is wrong; check upstream, then remove community_scripts_commit to pin it again"
  fi
else
  changes+=("${top_line[community_scripts_ref]}"$'\t+\t'"community_scripts_commit: \"$commit\"")
  notes+=("$file:${top_line[community_scripts_ref]}: community_scripts_commit: (absent) -> \"$commit\"")
fi

# The builders at that commit: builder -> "versioning version repo tag_prefix source" (\037 between: a tab would
# swallow the empty prefix).
declare -A builder_row=()
while IFS=$'\t' read -r c builder versioning version repo prefix source _; do
  [[ $c == "$commit" ]] || continue
  [[ $prefix == - ]] && prefix=""
  builder_row[$builder]="$versioning"$'\037'"$version"$'\037'"$repo"$'\037'"$prefix"$'\037'"$source"
done < <(grep -v '^#' "$BUILDERS_TABLE")

# 2. Each template's HAOS digest and app version.
for name in "${templates[@]}"; do
  builder=${f_val[$name.builder]:-}
  at="templates.$name"

  if [[ $builder == "$HAOS_BUILDER" && -n ${f_line[$name.haos_version]:-} ]]; then
    v=${f_val[$name.haos_version]}
    [[ $v =~ ^[0-9]+\.[0-9]+(\.[0-9]+)?$ ]] || fail "$file:${f_line[$name.haos_version]}: $at.haos_version '$v' is not a Home Assistant OS release"
    asset="haos_ova-$v.qcow2.xz"
    code=$(api_get "$GITHUB_API_URL/repos/$HAOS_REPO/releases/tags/$v")
    [[ $code == 200 ]] || fail "$file:${f_line[$name.haos_version]}: $at.haos_version: GitHub has no release $v of $HAOS_REPO (HTTP $code)"
    digest=$(jq -r --arg a "$asset" '[.assets[]? | select(.name == $a)][0].digest // "none"' "$work/body")
    [[ $(jq --arg a "$asset" '[.assets[]? | select(.name == $a)] | length' "$work/body") -gt 0 ]] ||
      fail "$file:${f_line[$name.haos_version]}: $at.haos_version: release $v of $HAOS_REPO has no asset $asset"
    [[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] ||
      fail "$file:${f_line[$name.haos_version]}: $at.haos_sha256: GitHub has no digest for $asset (assets uploaded before June 2025 have none): pin haos_sha256 by hand (sha256sum of the validated image) or choose a newer haos_version"
    sha=${digest#sha256:}
    if [[ -n ${f_line[$name.haos_sha256]:-} ]]; then
      [[ ${f_val[$name.haos_sha256]} == "$sha" ]] ||
        fail "$file:${f_line[$name.haos_sha256]}: $at.haos_sha256 is ${f_val[$name.haos_sha256]}, but GitHub's digest of $asset is $sha: check the image before changing either"
    else
      indent=$(line_of "${f_line[$name.haos_version]}" | sed 's/[^ ].*//')
      changes+=("${f_line[$name.haos_version]}"$'\t+\t'"${indent}haos_sha256: \"$sha\"")
      notes+=("$file:${f_line[$name.haos_version]}: $at.haos_sha256: (absent) -> \"$sha\"")
    fi
  fi

  [[ -n ${f_line[$name.app_version]:-} ]] || continue
  line=${f_line[$name.app_version]}
  version=${f_val[$name.app_version]}
  where="$file:$line: $at.app_version"
  [[ -n ${builder_row[$builder]:-} ]] ||
    fail "$where: $BUILDERS_TABLE does not say what $builder does with var_appversion at ${commit:0:12}; read its install script there and record it"
  IFS=$'\037' read -r versioning pinned repo prefix source <<<"${builder_row[$builder]}"
  case "$versioning" in
  none) fail "$where: $builder has no app version ($source); remove app_version" ;;
  pinned)
    [[ $version == "$pinned" ]] || fail "$where: '$version' is not what $builder installs: at ${commit:0:12} it installs $pinned whatever var_appversion says ($source); set app_version to \"$pinned\""
    continue
    ;;
  esac

  if [[ $version =~ ^[0-9]+(\.[0-9]+){0,3}$ ]]; then
    # Exact: the tag var_appversion will name must be a published release.
    code=$(api_get "$GITHUB_API_URL/repos/$repo/releases/tags/$prefix$version")
    [[ $code == 200 && $(jq -r '.draft or .prerelease' "$work/body") == false ]] ||
      fail "$where: $repo has no published release tagged $prefix$version (HTTP $code)"
    continue
  fi
  [[ $version =~ ^[0-9]+(\.[0-9]+){0,2}\.x$ ]] || fail "$where: '$version' is neither an exact release such as 11.19.0 nor a pattern such as 11.x"

  # A pattern: the newest published (not draft, not prerelease) release whose tag is prefix + a version matching it.
  stem=${version%x}
  url="$GITHUB_API_URL/repos/$repo/releases?per_page=100"
  : >"$work/tags"
  for ((page = 1; page <= MAX_PAGES; page++)); do
    code=$(api_get "$url")
    [[ $code == 200 ]] || fail "$where: GitHub answered HTTP $code for the releases of $repo"
    jq -r '.[] | select((.draft | not) and (.prerelease | not)) | .tag_name' "$work/body" >>"$work/tags"
    url=$(cat "$work/next")
    [[ -n $url ]] || break
    [[ $url == "$GITHUB_API_URL/"* ]] || fail "$where: GitHub's next page '$url' is not under $GITHUB_API_URL"
  done
  best=$(while read -r tag; do
    [[ $tag == "$prefix"* ]] || continue
    v=${tag#"$prefix"}
    if [[ $v == "$stem"* && ${v#"$stem"} =~ ^[0-9]+(\.[0-9]+)*$ ]]; then echo "$v"; fi
  done <"$work/tags" | sort -V | tail -n 1)
  [[ -n $best ]] || fail "$where: no published release of $repo matches $version (tags spelled ${prefix}<version>)"
  replace_value "$line" "${f_start[$name.app_version]}" "${f_end[$name.app_version]}" "${f_quote[$name.app_version]}" "$best"
  notes+=("$where: '$version' -> '$best' (tag $prefix$best)")
done

# --- Writing: every change in one pass, or none.
if ((${#changes[@]} == 0)); then
  echo "pin-release: $file is pinned; nothing to change"
  exit 0
fi
printf '%s\n' "${notes[@]}"
if ((dry_run)); then
  echo "pin-release: --dry-run: $file not changed (${#changes[@]} change(s) above)"
  exit 0
fi
printf '%s\n' "${changes[@]}" >"$work/changes"
tmp=$(mktemp "$file.XXXXXX")
awk -F'\t' -v changes="$work/changes" '
  BEGIN { while ((getline c < changes) > 0) { n = index(c, "\t"); l = substr(c, 1, n - 1); r = substr(c, n + 1)
    if (substr(r, 1, 2) == "+\t") after[l] = after[l] substr(r, 3) "\n"; else repl[l] = r } }
  { if (NR in repl) print repl[NR]; else print; if (NR in after) printf "%s", after[NR] }
' "$file" >"$tmp"
# awk ends every line with a newline; keep a file that had none at its end without one.
if [[ -n $(tail -c 1 "$file") ]]; then truncate -s -1 "$tmp"; fi
chmod --reference="$file" "$tmp"
mv -f "$tmp" "$file"
echo "pin-release: wrote ${#changes[@]} change(s) to $file"
