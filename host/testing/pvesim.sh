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
  local out status body message
  out=$("$PVESIM_CURL" -sS -k -X "$method" "${get[@]}" -H "Authorization: PVEAPIToken=$PVESIM_TOKEN" -H "X-PveSim-Cli: root" \
    -w '\n%{http_code}' "${args[@]}" "${PVESIM_URL%/}/${path#/}")
  status=${out##*$'\n'}
  body=${out%$'\n'*}
  if [[ $status != 200 ]]; then
    message=$("$PVESIM_JQ" -r '.message // empty' <<<"$body" 2>/dev/null || true)
    fail "${message:-HTTP $status}"
  fi
  "$PVESIM_JQ" "$option" ".data | $filter" <<<"$body"
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
  local upid=$1 node encoded state
  node=${upid#UPID:}
  node=${node%%:*}
  encoded=$(uri_encode "$upid")
  while :; do
    # "stopped EXITSTATUS" once the task ended.
    state=$(pve_data -r '"\(.status) \(.exitstatus // "")"' GET "/nodes/$node/tasks/$encoded/status")
    [[ $state == "stopped "* ]] && break
    sleep 0.05
  done
  pve_data -r '.[].t' GET "/nodes/$node/tasks/$encoded/log" limit=10000
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
