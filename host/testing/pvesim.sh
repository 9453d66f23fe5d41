# shellcheck shell=bash
# Shared part of the Proxmox CLI stand-ins (pct, qm, pveam, pvesh) used by the build tests: each call becomes
# the Proxmox API request the real tool makes, sent to the Proxmox emulator (PveSim) as root@pam through its
# host CLI mode (X-PveSim-Cli). Containers have no real root file system: each gets a directory
# $PVESIM_CT_ROOT/<vmid>/rootfs, and "pct exec" runs the command on this machine with CTRLABLE_ROOT set to it.
#
# Settings come from pvesim.env beside the stand-ins (or $PVESIM_ENV), because builders run with a cleared
# environment: PVESIM_URL (https://127.0.0.1:PORT/api2/json/), PVESIM_TOKEN (root@pam!admin=SECRET),
# PVESIM_NODE, PVESIM_CT_ROOT.
set -euo pipefail

pvesim_here=$(cd "${BASH_SOURCE[0]%/*}" && pwd)
# shellcheck source=/dev/null
source "${PVESIM_ENV:-$pvesim_here/pvesim.env}"
: "${PVESIM_URL:?}" "${PVESIM_TOKEN:?}" "${PVESIM_NODE:?}" "${PVESIM_CT_ROOT:?}"
PVESIM_CURL=${PVESIM_CURL:-/usr/bin/curl}
PVESIM_JQ=${PVESIM_JQ:-jq}
# shellcheck disable=SC2034 # used by the stand-ins that source this file
NODE=$PVESIM_NODE

# Like the real tools: the error on stderr, exit code 255.
fail() {
  printf '%s\n' "$*" >&2
  exit 255
}

# Every call below starts as few processes as it can (one curl, one jq): the tests run these stand-ins thousands of
# times on two cores.

# pve METHOD PATH [key=value ...]: the API call; prints the "data" member as compact JSON.
pve() { pve_data -c . "$@"; }

# pve_data JQ_OPTION FILTER METHOD PATH [key=value ...]: the API call; prints FILTER of the "data" member.
pve_data() {
  local option=$1 filter=$2 method=$3 path=$4
  shift 4
  local -a args=() get=()
  local kv
  for kv in "$@"; do args+=(--data-urlencode "$kv"); done
  if [[ $method == GET || $method == DELETE ]]; then get=(-G); fi
  local out
  out=$("$PVESIM_CURL" -sS -k -X "$method" "${get[@]}" -H "Authorization: PVEAPIToken=$PVESIM_TOKEN" -H "X-PveSim-Cli: root" \
    -w '\n%{http_code}' "${args[@]}" "${PVESIM_URL%/}/${path#/}")
  answer "$option" "$filter" "${out##*$'\n'}" "${out%$'\n'*}"
}

# answer JQ_OPTION FILTER HTTP_STATUS BODY: prints FILTER of the answer's "data" member; fails with its message
# unless the status is 200.
answer() {
  local option=$1 filter=$2 status=$3 body=$4 message
  if [[ $status != 200 ]]; then
    message=$("$PVESIM_JQ" -r '.message // empty' <<<"$body" 2>/dev/null || true)
    fail "${message:-HTTP $status}"
  fi
  # The emulator answers compact JSON, {"data":DATA}: DATA is .data as compact JSON. The filters the stand-ins use
  # most are read off DATA here without starting jq (jq's start-up cost more than the request itself); anything
  # else, or any DATA these shortcuts cannot read for sure, goes to jq as before.
  if [[ $body == '{"data":'*'}' ]]; then
    # A list may come with its length: {"data":[...],"total":N}. (Inside DATA such a key would be followed by
    # DATA's own closing brace too.)
    local data=${body#'{"data":'}
    data=${data%'}'}
    data=${data%',"total":'+([0-9])}
    if quick_filter "$option" "$filter" "$data"; then return 0; fi
    "$PVESIM_JQ" "$option" "$filter" <<<"$data"
    return
  fi
  "$PVESIM_JQ" "$option" ".data | $filter" <<<"$body"
}

# The filter pvesh applies: scalars as they are, null as nothing, everything else as compact JSON.
PVESH_FILTER='if type == "string" or type == "number" then . elif type == "null" then empty else tojson end'

# quick_filter OPTION FILTER DATA: prints what jq OPTION FILTER prints for the compact JSON DATA, for the few filters
# and shapes of DATA it knows; returns 1 (printing nothing) for any other, so the caller asks jq.
quick_filter() {
  local option=$1 filter=$2 data=$3 text
  # No escape anywhere: every '"' then delimits a string, so the patterns below cannot match inside one.
  [[ $data != *\\* ]] || return 1
  case "$option $filter" in
    "-c .") printf '%s\n' "$data" ;;
    "-r .")
      if [[ $data =~ ^\"([^\"]*)\"$ ]]; then
        printf '%s\n' "${BASH_REMATCH[1]}"
      elif [[ $data =~ ^(null|true|false|-?[0-9]{1,15})$ ]]; then
        printf '%s\n' "$data"
      else
        return 1
      fi
      ;;
    "-r $PVESH_FILTER")
      if [[ $data =~ ^\"([^\"]*)\"$ ]]; then
        printf '%s\n' "${BASH_REMATCH[1]}"
      elif [[ $data == null ]]; then
        :
      elif [[ $data =~ ^(true|false|-?[0-9]{1,15})$ || $data == [\{\[]* ]]; then
        printf '%s\n' "$data"
      else
        return 1
      fi
      ;;
    "-r .status")
      json_field "$data" status || return 1
      printf '%s\n' "$FIELD"
      ;;
    '-r "\(.status) \(.exitstatus // "")"')
      json_field "$data" status || return 1
      text=$FIELD
      json_field "$data" exitstatus || return 1
      ((FIELD_NULL)) && FIELD=""
      printf '%s %s\n' "$text" "$FIELD"
      ;;
    "-r .[].t")
      # A task log: [{"n":1,"t":"line"},...]; a long one goes to jq (this loop copies the rest of it per line).
      ((${#data} <= 8192)) || return 1
      [[ $data =~ ^\[(\{\"n\":[0-9]+,\"t\":\"[^\"]*\"\},?)*\]$ && $data != *'},]' ]] || return 1
      while [[ $data =~ \"t\":\"([^\"]*)\" ]]; do
        printf '%s\n' "${BASH_REMATCH[1]}"
        data=${data#*"${BASH_REMATCH[0]}"}
      done
      ;;
    *) return 1 ;;
  esac
}

# json_field JSON KEY: the value of KEY in the compact JSON object JSON (no escapes in it) in FIELD: a string's text,
# a number, true, false or null (also when KEY is missing; FIELD_NULL is then 1). Only when KEY occurs once: the
# emulator's objects these filters read keep it at the top level. Returns 1 otherwise, or for any other value.
json_field() {
  local json=$1 key=$2 rest
  FIELD_NULL=0
  [[ $json == '{'*'}' && $json != *\\* ]] || return 1
  rest=${json#*"\"$key\":"}
  if [[ $rest == "$json" ]]; then
    FIELD=null FIELD_NULL=1
    return 0
  fi
  [[ $rest != *"\"$key\":"* ]] || return 1
  if [[ $rest =~ ^\"([^\"]*)\"[,\}] ]]; then
    FIELD=${BASH_REMATCH[1]}
  elif [[ $rest =~ ^(null|true|false|-?[0-9]{1,15})[,\}] ]]; then
    FIELD=${BASH_REMATCH[1]}
    [[ $FIELD != null ]] || FIELD_NULL=1
  else
    return 1
  fi
}

# uri_encode TEXT: TEXT as a URL path segment (a UPID holds ':', '@' and '!').
uri_encode() {
  local text=$1 out="" c i
  for ((i = 0; i < ${#text}; i++)); do
    c=${text:i:1}
    case $c in
      [A-Za-z0-9._~-]) out+=$c ;;
      *) printf -v c '%%%02X' "'$c" && out+=$c ;;
    esac
  done
  printf '%s' "$out"
}

# Waits for a task like the CLI does: prints its log; a failed task fails the command.
wait_task() {
  local upid=$1 node encoded task state
  local -a answers
  node=${upid#UPID:}
  node=${node%%:*}
  encoded=$(uri_encode "$upid")
  task="${PVESIM_URL%/}/nodes/$node/tasks/$encoded"
  while :; do
    # The status and then the log in one curl (one process, one connection): a log read after a "stopped" status is
    # the whole log. Each answer is one line of compact JSON, then its HTTP status on a line of its own.
    mapfile -t answers < <("$PVESIM_CURL" -sS -k -H "Authorization: PVEAPIToken=$PVESIM_TOKEN" -H "X-PveSim-Cli: root" \
      -w '\n%{http_code}\n' "$task/status" "$task/log?limit=10000")
    ((${#answers[@]} == 4)) || fail "task $upid: unexpected answer from the emulator"
    # "stopped EXITSTATUS" once the task ended.
    state=$(answer -r '"\(.status) \(.exitstatus // "")"' "${answers[1]}" "${answers[0]}")
    [[ $state == "stopped "* ]] && break
    sleep 0.05
  done
  answer -r '.[].t' "${answers[3]}" "${answers[2]}"
  [[ ${state#stopped } == OK ]] || fail "${state#stopped }"
}

# CLI options (--key value, -key value, --key=value, --flag) as key=value pairs in OPTS.
parse_opts() {
  OPTS=()
  while (($# > 0)); do
    local arg=$1 key
    shift
    [[ $arg == -* ]] || fail "400 unable to parse option '$arg'"
    key=${arg##+(-)}
    if [[ $key == *=* ]]; then
      OPTS+=("$key")
    elif (($# > 0)) && [[ $1 != -* || $1 =~ ^-[0-9] ]]; then
      OPTS+=("$key=$1")
      shift
    else
      OPTS+=("$key=1")
    fi
  done
}

# Prints a config as "key: value" lines, like pct/qm config.
print_config() {
  "$PVESIM_JQ" -r 'to_entries[] | select(.key != "digest") | "\(.key): \(.value)"'
}

ct_root() {
  printf '%s/%s/rootfs' "$PVESIM_CT_ROOT" "$1"
}

require_running() {
  [[ $(pve_data -r .status GET "/nodes/$NODE/lxc/$1/status/current") == running ]] || fail "CT $1 not running"
}

# in_ct ROOT PATH: where PATH inside a container whose root directory is ROOT really is, following symbolic links
# as the container sees them (an absolute target starts again at ROOT, .. stops at ROOT): what opening the file in
# the container's mount namespace reaches.
in_ct() {
  local root=$1 resolved="" part target hops=0
  local -a parts
  IFS=/ read -ra parts <<<"$2"
  while ((${#parts[@]} > 0)); do
    part=${parts[0]}
    parts=("${parts[@]:1}")
    case $part in
      "" | .) continue ;;
      ..)
        resolved=${resolved%/*}
        continue
        ;;
    esac
    if [[ -L $root$resolved/$part ]]; then
      ((++hops <= 40)) || return 1
      target=$(readlink "$root$resolved/$part")
      if [[ $target == /* ]]; then resolved=""; fi
      local -a more
      IFS=/ read -ra more <<<"$target"
      parts=("${more[@]}" "${parts[@]}")
    else
      resolved+=/$part
    fi
  done
  printf '%s%s\n' "$root" "$resolved"
}
