#!/usr/bin/env bash
# ctrlable-firstboot — turns a guest freshly cloned from a Ctrlable template into a unique, wired
# appliance, with no host shell and no secret baked into the image. Run once by
# ctrlable-firstboot.service on the guest's first boot; the template build installs it as
# /usr/local/sbin/ctrlable-firstboot. Steps, in order:
#
#   machine-id     a new /etc/machine-id (pct clone only truncates it)
#   ssh-host-keys  new SSH host keys (pct clone keeps the template's)
#   hostname       the system uses the host name Proxmox gave the guest
#   configure      fetch this guest's assignment (wiring and per-instance secrets) from the orchestrator,
#                  with retries and back-off, and write the app's configuration where the community-scripts
#                  install put it, keeping every setting the assignment does not own
#   restart        restart the app
#   follow         install ctrlable-upgrade.timer (every guest) and, for zigbee2mqtt and frigate,
#                  ctrlable-broker-follow.timer (below)
#   complete       report "ok" and the installed versions to the orchestrator
#   forget         remove firstboot.env (the release secret); the instance credential stays for the timers
#   disable        disable the service
#
# Following the broker (ctrlable-firstboot --follow-broker, every 5 minutes from ctrlable-broker-follow.timer):
# a zigbee2mqtt or frigate guest's MQTT broker is by default the site's Home Assistant, reached by address; under
# DHCP the router may give Home Assistant another one. The guest asks the orchestrator where its broker is now
# (GET /api/provision/broker, with its instance credential, pinned like every request here) and, when that is not
# what its app uses, rewrites the app's MQTT server (mqtt.server, or frigate's mqtt.host/port) and restarts the app.
# /etc/ctrlable/follow.env holds the orchestrator's URL and certificate fingerprint (no secret).
#
# Upgrading (ctrlable-firstboot --upgrade, every 2 minutes from ctrlable-upgrade.timer): the guest asks the
# orchestrator whether an upgrade of its app waits for it (GET /api/provision/upgrade, with its instance credential;
# 204 = none, the common answer). When one does, the orchestrator has taken a Proxmox snapshot of the guest; the
# script runs the app's own update routine (update_script of community-scripts' ct/<app>.sh) from the release's
# pinned commit — never from main — with PHS_SILENT=1 and var_appversion, and reports the outcome and the installed
# versions (POST /api/provision/upgrade/complete). A failed update is reported too: the orchestrator rolls the guest
# back to its snapshot. UPDATE_ROUTINE replaces the download and run of the update routine (tests: a stand-in);
# COMMUNITY_SCRIPTS_URL is where the pinned files are fetched from.
#
# Each step leaves a marker in the state directory once its effects are on disk, so a run cut short (a
# power cut) resumes at the step it was in, and a run after the last step changes nothing. Files are
# replaced by rename, never rewritten in place.
#
# The orchestrator's URL, its certificate's SHA-256 fingerprint, the hash of its public key and the release's
# first-boot secret come from /etc/ctrlable/firstboot.env, written by the template build (host/ctrlable-build).
# Every request is pinned to that public key (curl --pinnedpubkey sha256//..., no CA, no host name check): curl
# checks it in the handshake, before anything is sent. A template built before the key's hash was in
# firstboot.env has only the fingerprint: then the certificate the orchestrator presents must have it (one
# openssl handshake) before the first request, which is pinned to that certificate's public key. The secret travels in a
# header (not the URL, so it stays out of access logs) read from a file (not the command line, so it
# stays out of the process list).
#
# Every clone of the release carries that secret, so it only claims the assignment: the script makes this
# guest's own instance credential (32 random bytes), keeps it in /etc/ctrlable/instance-credential (0600,
# synced) and sends it with the secret in the one fetch (X-Ctrlable-Claim), which claims the assignment for it
# and confirms the claim at once; after that the orchestrator refuses the release secret (alone or with another
# credential) for this guest, and every later request sends only the credential. A run cut short resumes with
# it. Once the orchestrator has the report, the release secret goes; the credential stays for the timers.
#
# Exit status: 0 done (or done before); 1 failed, try again later (systemd restarts the service with
# back-off); 3 failed for good — the failure was reported to the orchestrator, or the orchestrator says
# this first boot is over — so the unit does not restart (RestartPreventExitStatus=3).
#
# Every path and command can be overridden, so tests and the Proxmox emulator run this script in a
# sandbox root: ROOT (prefix of every guest path), FIRSTBOOT_ENV, FIRSTBOOT_STATE_DIR, FIRSTBOOT_RUN_DIR,
# FIRSTBOOT_CREDENTIAL, FOLLOW_ENV, SYSTEMCTL, SSH_KEYGEN, MACHINE_ID_SETUP, HOSTNAMECTL, CURL, OPENSSL, TIMEOUT, JQ,
# DOCKER, MYSQL, SLEEP, CURL_INTERFACE (source address for curl), FIRSTBOOT_ATTEMPTS, FIRSTBOOT_DELAY,
# FIRSTBOOT_MAX_DELAY (seconds), UPDATE_ROUTINE, COMMUNITY_SCRIPTS_URL.
set -Eeuo pipefail
umask 077

readonly PROG=ctrlable-firstboot
readonly SERVICE=ctrlable-firstboot.service
readonly SECRET_HEADER=X-Ctrlable-Secret
readonly CREDENTIAL_HEADER=X-Ctrlable-Instance-Credential
readonly CLAIM_HEADER=X-Ctrlable-Claim
readonly FOLLOW_UNIT=ctrlable-broker-follow
readonly UPGRADE_UNIT=ctrlable-upgrade
# 3: follows the MQTT broker after the first boot (the orchestrator warns about guests below it).
# 4: every guest keeps its instance credential and runs its upgrades (the orchestrator upgrades no guest below it).
readonly SCRIPT_VERSION=4

ROOT="${ROOT:-}"
ROOT="${ROOT%/}"
FIRSTBOOT_ENV="${FIRSTBOOT_ENV:-$ROOT/etc/ctrlable/firstboot.env}"
CREDENTIAL_FILE="${FIRSTBOOT_CREDENTIAL:-$ROOT/etc/ctrlable/instance-credential}"
FOLLOW_ENV="${FOLLOW_ENV:-$ROOT/etc/ctrlable/follow.env}"
STATE_DIR="${FIRSTBOOT_STATE_DIR:-$ROOT/var/lib/ctrlable/firstboot}"
RUN_DIR="${FIRSTBOOT_RUN_DIR:-$ROOT/run/ctrlable-firstboot}"
SYSTEMCTL="${SYSTEMCTL:-systemctl}"
SSH_KEYGEN="${SSH_KEYGEN:-ssh-keygen}"
MACHINE_ID_SETUP="${MACHINE_ID_SETUP:-systemd-machine-id-setup}"
HOSTNAMECTL="${HOSTNAMECTL:-hostnamectl}"
CURL="${CURL:-curl}"
OPENSSL="${OPENSSL:-openssl}"
TIMEOUT="${TIMEOUT:-timeout}"
JQ="${JQ:-jq}"
DOCKER="${DOCKER:-docker}"
MYSQL="${MYSQL:-mysql}"
SLEEP="${SLEEP:-sleep}"
CURL_INTERFACE="${CURL_INTERFACE:-}"
ATTEMPTS="${FIRSTBOOT_ATTEMPTS:-10}"
DELAY="${FIRSTBOOT_DELAY:-2}"
MAX_DELAY="${FIRSTBOOT_MAX_DELAY:-60}"
UPDATE_ROUTINE="${UPDATE_ROUTINE:-}"
COMMUNITY_SCRIPTS_URL="${COMMUNITY_SCRIPTS_URL:-https://raw.githubusercontent.com/community-scripts/ProxmoxVE}"

STEP=start
REPORT_FAILURES=0
GUEST_HOSTNAME=""
ORCHESTRATOR_URL=""
TLS_PIN=""
TLS_FINGERPRINT=""
# The orchestrator's public key as curl pins it (sha256//<base64>), when firstboot.env or follow.env names it.
TLS_PUBKEY=""
RELEASE_SECRET=""
INSTANCE_CREDENTIAL=""
HTTP_STATUS=""
APP_TYPE=""
ASSIGNMENT_CHECK=""
CURL_ARGS=()
# The files the current step wrote in place (write_new): synced together before its marker.
WRITTEN=()
# Every scalar of the assignment by its path ("mqtt.host", "cameras.0.name"), read once by load_assignment.
declare -A ASSIGNMENT=()

# --- Output: progress on stdout, one line per failure on stderr ----------------------------------

say() { printf '%s: %s\n' "$PROG" "$*"; }
warn() { printf '%s: %s\n' "$PROG" "$*" >&2; }

# die STATUS MESSAGE: one line on stderr, then exit. After the assignment was fetched, a failure is also
# reported to the orchestrator (the instance shows it), and then the exit status is 3: no restart.
die() {
  local status=$1
  shift
  warn "$STEP: $*"
  if ((REPORT_FAILURES == 1)); then
    REPORT_FAILURES=0
    if report_failed "$STEP: $*"; then
      : >"$STATE_DIR/failed"
      forget_secrets
      status=3
    fi
  fi
  exit "$status"
}

# An unexpected failure of a command the script does not check itself.
on_error() {
  local status=$1 line=$2 command=$3
  # A failing command substitution is reported by the shell around it, once.
  if ((BASH_SUBSHELL > 0)); then
    exit "$status"
  fi
  trap - ERR
  die 1 "'${command%% *}' failed with status $status (line $line)"
}
trap 'on_error $? $LINENO "$BASH_COMMAND"' ERR

cleanup() {
  # The assignment and the request headers hold secrets: never leave them behind.
  if [[ -d $RUN_DIR ]]; then
    rm -rf -- "$RUN_DIR"
  fi
}
trap cleanup EXIT

# try DESCRIPTION COMMAND...: runs a command; when it fails, die with one line that ends with the start
# of the command's error output (on one line).
try() {
  local what=$1 status=0
  shift
  "$@" 2>"$RUN_DIR/stderr" >/dev/null || status=$?
  if ((status != 0)); then
    die 1 "$what failed (status $status): $(first_line "$RUN_DIR/stderr")"
  fi
}

# The first 300 bytes of a file on one line.
first_line() {
  local text
  text=$(head -c 300 "$1" 2>/dev/null | tr '\r\n\t' '   ') || text=""
  text=${text%"${text##*[![:space:]]}"}
  printf '%s' "${text:-no error output}"
}

# --- Steps and markers ---------------------------------------------------------------------------

step_done() { [[ -f "$STATE_DIR/$1.done" ]]; }

# An empty marker: creating it is all-or-nothing already (no content to half-write, no rename needed).
mark_done() {
  : >"$STATE_DIR/$1.done"
}

# run_step NAME FUNCTION: runs the step unless its marker exists.
run_step() {
  local name=$1 fn=$2
  STEP=$name
  if step_done "$name"; then
    return 0
  fi
  "$fn"
  # One sync for every file the step created, before its marker: a run cut short earlier does the step again.
  if ((${#WRITTEN[@]} > 0)); then
    sync -- "${WRITTEN[@]}" 2>/dev/null || true
    WRITTEN=()
  fi
  mark_done "$name"
}

# write_file PATH [MODE] < content (a here-string or a file, not a pipe: no subshell): replaces PATH by rename (MODE, else
# the mode of the old file, else 0600; owner of the old file kept).
write_file() {
  local path=$1 mode=${2:-} tmp
  # Parameter expansion, not dirname/basename: two processes less per file written.
  tmp="${path%/*}/.${path##*/}.ctrlable-tmp"
  # The builtin read, not cat: one process less per file written (the files are text: no NUL byte).
  local content=""
  IFS= read -r -d '' content || true
  printf '%s' "$content" >"$tmp"
  if [[ -n $mode ]]; then
    chmod "$mode" -- "$tmp"
  elif [[ -e $path ]]; then
    chmod --reference="$path" -- "$tmp"
  fi
  # The new file is this user's and group's already: a chown only for a file of another owner or group.
  if [[ -e $path ]] && ! [[ -O $path && -G $path ]]; then
    chown --reference="$path" -- "$tmp" 2>/dev/null || true
  fi
  sync "$tmp" 2>/dev/null || true
  mv -f -- "$tmp" "$path"
}

# write_new PATH MODE(600|644) < content: a file the current step creates. Not there yet, it is written in place with
# MODE — no rename and no sync of its own (run_step syncs what the step wrote once, before its marker; a run cut short
# before that does the step again and replaces the file by write_file). There already, write_file replaces it.
write_new() {
  local path=$1 mode=$2 content=""
  if [[ -e $path ]]; then
    write_file "$path"
    chmod "$mode" -- "$path"
    return 0
  fi
  IFS= read -r -d '' content || true
  [[ $mode != 644 ]] || umask 022
  printf '%s' "$content" >"$path"
  umask 077
  WRITTEN+=("$path")
}

# --- Configuration baked into the template -------------------------------------------------------

prepare_run_dir() {
  # Created under umask 077: 0700 already. One left by a killed run is made 0700 again.
  if [[ -d $RUN_DIR ]]; then
    chmod 700 -- "$RUN_DIR"
  else
    mkdir -p -- "$RUN_DIR"
  fi
}

load_environment() {
  [[ -r $FIRSTBOOT_ENV ]] || die 1 "cannot read $FIRSTBOOT_ENV: this guest was not built from a Ctrlable template"
  read_orchestrator_env "$FIRSTBOOT_ENV"
  [[ -n $RELEASE_SECRET ]] || die 1 "$FIRSTBOOT_ENV: CTRLABLE_RELEASE_SECRET is empty"
  # An earlier run claimed the assignment: only this guest's credential works now.
  if [[ -f $CREDENTIAL_FILE ]]; then
    read_instance_credential
  fi
  prepare_requests
}

# read_orchestrator_env FILE: the orchestrator's URL and certificate fingerprint, checked (firstboot.env also holds
# the release secret; follow.env does not).
read_orchestrator_env() {
  local file=$1 line key value
  # Split at the first "=" only (read with IFS="=" would drop a trailing "=" of a value).
  while IFS= read -r line || [[ -n $line ]]; do
    key=${line%%=*}
    value=${line#*=}
    case $key in
      CTRLABLE_ORCHESTRATOR_URL) ORCHESTRATOR_URL=${value%/} ;;
      CTRLABLE_ORCHESTRATOR_FINGERPRINT) TLS_FINGERPRINT=${value^^} ;;
      CTRLABLE_ORCHESTRATOR_PUBKEY) TLS_PUBKEY=$value ;;
      CTRLABLE_RELEASE_SECRET) RELEASE_SECRET=$value ;;
      *) ;;
    esac
  done <"$file"
  [[ $ORCHESTRATOR_URL == https://* ]] || die 1 "$file: CTRLABLE_ORCHESTRATOR_URL must be an https:// URL"
  [[ $TLS_FINGERPRINT =~ ^([0-9A-F]{2}:){31}[0-9A-F]{2}$ ]] ||
    die 1 "$file: CTRLABLE_ORCHESTRATOR_FINGERPRINT must be the certificate's SHA-256 as AA:BB:... (32 bytes)"
  [[ -z $TLS_PUBKEY || $TLS_PUBKEY =~ ^sha256//[A-Za-z0-9+/]{43}=$ ]] ||
    die 1 "$file: CTRLABLE_ORCHESTRATOR_PUBKEY must be the SHA-256 of the orchestrator's public key as curl pins it (sha256//<base64>)"
  # Pinned by the key's hash: curl checks it in the handshake, no openssl run before the first request.
  TLS_PIN=$TLS_PUBKEY
}

read_instance_credential() {
  INSTANCE_CREDENTIAL=$(tr -d '[:space:]' <"$CREDENTIAL_FILE")
  [[ $INSTANCE_CREDENTIAL =~ ^[0-9a-f]{64}$ ]] ||
    die 1 "$CREDENTIAL_FILE does not hold an instance credential (64 hex digits): redeploy the instance"
}

# prepare_requests: the header file and the curl arguments every request shares (with the pin when the environment
# file names the key; else the first request adds it).
prepare_requests() {
  set_auth_header
  CURL_ARGS=(--silent --proto "=https" --max-time 30 --connect-timeout 10
    --header "@$RUN_DIR/headers" --header 'Accept: application/json')
  if [[ -n $CURL_INTERFACE ]]; then
    CURL_ARGS+=(--interface "$CURL_INTERFACE")
  fi
  if [[ -n $TLS_PIN ]]; then
    CURL_ARGS+=(--insecure --pinnedpubkey "$TLS_PIN")
  fi
}

# The header file curl reads: the instance credential once this guest has one, else the release secret.
set_auth_header() {
  if [[ -n $INSTANCE_CREDENTIAL ]]; then
    printf '%s: %s\n' "$CREDENTIAL_HEADER" "$INSTANCE_CREDENTIAL" >"$RUN_DIR/headers"
  else
    printf '%s: %s\n' "$SECRET_HEADER" "$RELEASE_SECRET" >"$RUN_DIR/headers"
  fi
}

# The header file of the claiming fetch: the release secret and this guest's own credential.
set_claim_header() {
  printf '%s: %s\n%s: %s\n' "$SECRET_HEADER" "$RELEASE_SECRET" "$CLAIM_HEADER" "$INSTANCE_CREDENTIAL" >"$RUN_DIR/headers"
}

read_hostname() {
  [[ -r "$ROOT/etc/hostname" ]] || die 1 "cannot read $ROOT/etc/hostname"
  GUEST_HOSTNAME=""
  IFS= read -r GUEST_HOSTNAME <"$ROOT/etc/hostname" || true
  GUEST_HOSTNAME=${GUEST_HOSTNAME//[[:space:]]/}
  [[ $GUEST_HOSTNAME =~ ^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$ ]] ||
    die 1 "'$GUEST_HOSTNAME' in /etc/hostname is not a valid host name"
}

# --- Talking to the orchestrator -----------------------------------------------------------------

curl_reason() {
  case $1 in
    6) echo "cannot resolve the host" ;;
    7) echo "connection refused or no route" ;;
    28) echo "timed out" ;;
    35) echo "TLS handshake failed" ;;
    45) echo "cannot use source address ${CURL_INTERFACE:-?}" ;;
    52) echo "empty reply" ;;
    56) echo "connection reset" ;;
    *) echo "curl status $1" ;;
  esac
}

problem_text() {
  "$JQ" -r '[.title, .detail] | map(select(. != null)) | join(": ")' "$1" 2>/dev/null | head -c 300 || true
}

problem_code() {
  "$JQ" -r '.code // empty' "$1" 2>/dev/null | head -c 64 || true
}

next_delay() {
  awk -v d="$1" -v m="$MAX_DELAY" -v r="$RANDOM" 'BEGIN { d = d * 2 * (0.8 + (r % 40) / 100); if (d > m) d = m; printf "%.2f\n", d }'
}

# pin_orchestrator (templates whose firstboot.env has no CTRLABLE_ORCHESTRATOR_PUBKEY): checks the certificate the
# orchestrator presents against CTRLABLE_ORCHESTRATOR_FINGERPRINT and pins every later request to its public key
# (curl's --pinnedpubkey with the key's PEM file; host/ctrlable-build pins the same key by its hash). Returns 1 when there was no TLS handshake (try again); dies when the certificate is
# another one. Two openssl runs: the handshake, and one x509 that prints the fingerprint and the public key.
pin_orchestrator() {
  local hostport host port out fp
  hostport=${ORCHESTRATOR_URL#https://}
  hostport=${hostport%%/*}
  if [[ $hostport =~ ^\[([0-9A-Fa-f:.]+)\](:([0-9]+))?$ ]]; then
    host=${BASH_REMATCH[1]}
    port=${BASH_REMATCH[3]:-443}
    hostport="[$host]:$port"
  elif [[ $hostport =~ ^([^:]+)(:([0-9]+))?$ ]]; then
    host=${BASH_REMATCH[1]}
    port=${BASH_REMATCH[3]:-443}
    hostport="$host:$port"
  else
    die 1 "cannot read host and port from CTRLABLE_ORCHESTRATOR_URL '$ORCHESTRATOR_URL'"
  fi
  local sni=()
  [[ $host =~ ^[0-9.]+$|: ]] || sni=(-servername "$host")
  out=$("$TIMEOUT" 15 "$OPENSSL" s_client -connect "$hostport" "${sni[@]}" </dev/null 2>/dev/null |
    "$OPENSSL" x509 -noout -fingerprint -sha256 -pubkey 2>/dev/null) || return 1
  # A "sha256 Fingerprint=AA:BB:..." line and the public key as PEM.
  [[ $out =~ [Ff]ingerprint=([0-9A-Fa-f:]+) ]] || return 1
  fp=${BASH_REMATCH[1]^^}
  [[ $fp == "$TLS_FINGERPRINT" ]] ||
    die 1 "$ORCHESTRATOR_URL presents certificate $fp, not the pinned $TLS_FINGERPRINT: the template was built for another orchestrator, or its certificate changed"
  [[ $out =~ -----BEGIN\ PUBLIC\ KEY-----[^-]+-----END\ PUBLIC\ KEY----- ]] || return 1
  printf '%s\n' "${BASH_REMATCH[0]}" >"$RUN_DIR/pinned-key.pem"
  TLS_PIN="$RUN_DIR/pinned-key.pem"
  CURL_ARGS+=(--insecure --pinnedpubkey "$TLS_PIN")
}

# request METHOD PATH BODY_FILE|"" OUT_FILE: sets HTTP_STATUS. Connection errors, 409 (not ready yet),
# 429 and 5xx are retried with back-off; any other answer — and 409 "claimed", which stays — is returned
# to the caller.
request() {
  local method=$1 path=$2 body=$3 out=$4 attempt=1 delay=$DELAY code status last
  local args=(--request "$method" --output "$out" --write-out '%{http_code}')
  if [[ -n $body ]]; then
    args+=(--header 'Content-Type: application/json' --data-binary "@$body")
  fi
  while :; do
    status=0
    if [[ -z $TLS_PIN ]] && ! pin_orchestrator; then
      status=-1
      last="no TLS handshake: not listening, or unreachable"
    else
      code=$("$CURL" "${CURL_ARGS[@]}" "${args[@]}" "$ORCHESTRATOR_URL$path" 2>/dev/null) || status=$?
    fi
    if ((status == 90)); then
      [[ -z $TLS_PUBKEY ]] ||
        die 1 "$ORCHESTRATOR_URL does not present the pinned public key $TLS_PUBKEY: refusing to send anything (the template was built for another orchestrator, or its key changed)"
      die 1 "$ORCHESTRATOR_URL no longer presents the pinned public key: refusing to send anything"
    fi
    if ((status == 0)); then
      case $code in
        409 | 429 | 5??)
          # Answers that stay so: the assignment is claimed; no upgrade waits for this report.
          if [[ $code == 409 && $(problem_code "$out") =~ ^(claimed|not-upgrading)$ ]]; then
            HTTP_STATUS=$code
            return 0
          fi
          last="HTTP $code: $(problem_text "$out")"
          ;;
        *)
          HTTP_STATUS=$code
          return 0
          ;;
      esac
    elif ((status > 0)); then
      last=$(curl_reason "$status")
    fi
    if ((attempt >= ATTEMPTS)); then
      die 1 "no answer from the orchestrator at $ORCHESTRATOR_URL after $ATTEMPTS attempts (last: $last)"
    fi
    warn "$STEP: attempt $attempt of $ATTEMPTS failed ($last); next in ${delay}s"
    "$SLEEP" "$delay"
    delay=$(next_delay "$delay")
    attempt=$((attempt + 1))
  done
}

# complete STATUS MESSAGE: POST /api/provision/complete. Sets HTTP_STATUS.
post_complete() {
  complete_body "$1" "$2" >"$RUN_DIR/complete.json"
  request POST /api/provision/complete "$RUN_DIR/complete.json" "$RUN_DIR/complete.out"
}

report_failed() {
  local saved_attempts=$ATTEMPTS
  ATTEMPTS=3
  post_complete failed "$1" || true
  ATTEMPTS=$saved_attempts
  [[ $HTTP_STATUS == 2?? ]]
}

# --- Step: machine-id ----------------------------------------------------------------------------

step_machine_id() {
  # One rm for both.
  local gone=("$ROOT/etc/machine-id")
  if [[ -e "$ROOT/var/lib/dbus/machine-id" && ! -L "$ROOT/var/lib/dbus/machine-id" ]]; then
    gone+=("$ROOT/var/lib/dbus/machine-id")
  fi
  rm -f -- "${gone[@]}"
  try "$MACHINE_ID_SETUP" "$MACHINE_ID_SETUP" --root="${ROOT:-/}"
  [[ -s "$ROOT/etc/machine-id" ]] || die 1 "$MACHINE_ID_SETUP wrote no $ROOT/etc/machine-id"
  if [[ -d "$ROOT/var/lib/dbus" ]]; then
    ln -sfn /etc/machine-id "$ROOT/var/lib/dbus/machine-id"
  fi
  say "machine-id: new machine id"
}

# --- Step: SSH host keys -------------------------------------------------------------------------

step_ssh_host_keys() {
  if [[ ! -d "$ROOT/etc/ssh" ]]; then
    say "ssh-host-keys: no /etc/ssh, nothing to do"
    return 0
  fi
  rm -f -- "$ROOT"/etc/ssh/ssh_host_*_key "$ROOT"/etc/ssh/ssh_host_*_key.pub
  if [[ -n $ROOT ]]; then
    try "$SSH_KEYGEN -A" "$SSH_KEYGEN" -A -f "$ROOT"
  else
    try "$SSH_KEYGEN -A" "$SSH_KEYGEN" -A
  fi
  compgen -G "$ROOT/etc/ssh/ssh_host_*_key" >/dev/null || die 1 "$SSH_KEYGEN -A created no host key"
  # Only when sshd runs already; a stopped sshd picks the new keys up when it starts.
  try "restarting ssh.service" "$SYSTEMCTL" try-restart ssh.service
  say "ssh-host-keys: new SSH host keys"
}

# --- Step: hostname ------------------------------------------------------------------------------

step_hostname() {
  local current=""
  current=$("$HOSTNAMECTL" hostname 2>/dev/null) || current=""
  if [[ $current != "$GUEST_HOSTNAME" ]]; then
    try "$HOSTNAMECTL set-hostname" "$HOSTNAMECTL" set-hostname "$GUEST_HOSTNAME"
  fi
  if [[ -f "$ROOT/etc/hosts" ]]; then
    # The builtin read, not awk and grep: /etc/hosts is rewritten unless a 127.0.1.1 line names the host already.
    local line kept="" found=0 words word
    while IFS= read -r line || [[ -n $line ]]; do
      read -r -a words <<<"$line" || true
      if [[ ${words[0]-} == 127.0.1.1 ]]; then
        for word in "${words[@]:1}"; do
          [[ $word != "$GUEST_HOSTNAME" ]] || found=1
        done
      fi
      [[ $line =~ ^127\.0\.1\.1[[:space:]] ]] || kept+=$line$'\n'
    done <"$ROOT/etc/hosts"
    if ((found == 0)); then
      write_file "$ROOT/etc/hosts" <<<"${kept}127.0.1.1"$'\t'"$GUEST_HOSTNAME"
    fi
  fi
  say "hostname: $GUEST_HOSTNAME"
}

# --- Step: configure -----------------------------------------------------------------------------

request_assignment() {
  request GET "/api/provision/assignment?hostname=$GUEST_HOSTNAME" "" "$RUN_DIR/assignment.json"
  case $HTTP_STATUS in
    200) ;;
    410) die 3 "the orchestrator says the first boot of $GUEST_HOSTNAME is over (410 Gone): redeploy the instance to start again" ;;
    403) die 1 "the orchestrator refused the assignment of $GUEST_HOSTNAME (403: $(problem_text "$RUN_DIR/assignment.json"))" ;;
    409) die 3 "the assignment of $GUEST_HOSTNAME was claimed and this guest has no credential for it (409: $(problem_text "$RUN_DIR/assignment.json"))" ;;
    *) die 1 "unexpected answer to the assignment request (HTTP $HTTP_STATUS: $(problem_text "$RUN_DIR/assignment.json"))" ;;
  esac
}

# store_credential CREDENTIAL: the instance credential to disk (0600, synced, by rename) and into the header file.
store_credential() {
  [[ -d ${CREDENTIAL_FILE%/*} ]] || mkdir -p -- "${CREDENTIAL_FILE%/*}"
  # A new file is 0600 already (umask 077): a chmod only for one that was there. A here-string, not a pipe: no subshell.
  if [[ -e $CREDENTIAL_FILE ]]; then
    write_file "$CREDENTIAL_FILE" 600 <<<"$1"
  else
    write_file "$CREDENTIAL_FILE" <<<"$1"
  fi
  INSTANCE_CREDENTIAL=$1
}

# new_credential: this guest's own instance credential, 32 random bytes as 64 hex digits, kept on disk (store_credential)
# before any request sends it, so a run cut short after the claiming fetch resumes with it.
new_credential() {
  local credential=""
  if [[ -n ${SRANDOM-} ]]; then
    # bash >= 5.1 (Debian 11 on): each $SRANDOM is 32 bits from the kernel's getrandom(); no process.
    printf -v credential '%08x%08x%08x%08x%08x%08x%08x%08x' \
      "$SRANDOM" "$SRANDOM" "$SRANDOM" "$SRANDOM" "$SRANDOM" "$SRANDOM" "$SRANDOM" "$SRANDOM"
  else
    credential=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
  fi
  [[ $credential =~ ^[0-9a-f]{64}$ ]] || die 1 "cannot make an instance credential from the kernel's random numbers"
  store_credential "$credential"
}

# keep_credential: an orchestrator older than the X-Ctrlable-Claim header ignored this guest's credential and handed
# out one of its own in the answer; it replaces this guest's before it is used.
keep_credential() {
  local credential="" json
  # No jq run: the credential is 64 hex digits, so a pattern over the JSON text finds exactly it.
  json=$(<"$RUN_DIR/assignment.json")
  if [[ $json =~ \"instanceCredential\"[[:space:]]*:[[:space:]]*\"([0-9a-f]{64})\" ]]; then
    credential=${BASH_REMATCH[1]}
  fi
  [[ -n $credential ]] || return 1
  store_credential "$credential"
  set_auth_header
}

# fetch_assignment: the release secret with this guest's own credential (X-Ctrlable-Claim): the one fetch claims the
# assignment and confirms the claim — from then on the release secret alone, or with another credential, is refused for
# this guest. A run that resumes sends the credential it stored again (the orchestrator serves the same credential's
# claim again). Every later request sends only the credential.
fetch_assignment() {
  local claiming=0
  if [[ -z $INSTANCE_CREDENTIAL ]]; then
    new_credential
    claiming=1
  fi
  set_claim_header
  request_assignment
  if keep_credential; then
    # An older orchestrator: its credential's first use confirms the claim, and its answer is the assignment used.
    request_assignment
  fi
  set_auth_header
  if ((claiming == 1)); then
    say "configure: the assignment is claimed; this guest's credential is in $CREDENTIAL_FILE"
  fi
  load_assignment
  [[ $ASSIGNMENT_CHECK != control ]] ||
    die 1 "the assignment holds a value with a control character; refusing to write it into configuration files"
  local hostname=${ASSIGNMENT[hostname]-}
  [[ $hostname == "$GUEST_HOSTNAME" ]] || die 1 "the assignment is for '$hostname', not for $GUEST_HOSTNAME"
  APP_TYPE=${ASSIGNMENT[type]-}
  # New on a first run: written in place, synced with the step's other new files before its marker (write_new).
  write_new "$STATE_DIR/type" 600 <<<"$APP_TYPE"
}

# load_assignment: the assignment's scalars into ASSIGNMENT with one jq run (a jq per value cost a busy
# core about a second per first boot), as path and value on alternate lines: the first line says whether
# a string holds a control character, and when none does no value spans two lines. null and false read
# as "", as jq's "//" reads them. Each array is there as well, as compact JSON under "PATH#json" (what
# jq -c prints: zigbee2mqtt's network key), so no value needs a jq run of its own.
load_assignment() {
  local lines key val
  # shellcheck disable=SC2016 # a jq program: its $p is a jq variable
  lines=$("$JQ" -r 'if ([.. | strings | test("[[:cntrl:]]")] | any) then "control" else "ok",
      (paths(scalars) as $p | ($p | map(tostring) | join(".")),
        (getpath($p) | if . == null or . == false then "" else tostring end)),
      (paths(arrays) as $p | ($p | map(tostring) | join(".") + "#json"), (getpath($p) | tojson)) end' "$RUN_DIR/assignment.json" 2>/dev/null) || lines=""
  ASSIGNMENT=()
  ASSIGNMENT_CHECK=""
  {
    IFS= read -r ASSIGNMENT_CHECK || true
    while IFS= read -r key; do
      IFS= read -r val || val=""
      [[ -z $key ]] || ASSIGNMENT[$key]=$val
    done
  } <<<"$lines"
}

# yaml_string_to VAR VALUE: VALUE for a YAML file, single-quoted so nothing in it is read as YAML syntax, into VAR
# (no command substitution: no fork). fetch_assignment refused control characters, so a value is one line.
yaml_string_to() {
  local yaml_in=$2
  printf -v "$1" "'%s'" "${yaml_in//\'/\'\'}"
}

# yaml_value VAR PATH: the assignment's value at PATH, quoted by yaml_string_to, into VAR.
yaml_value() { yaml_string_to "$1" "${ASSIGNMENT[$2]-}"; }

# yaml_edit FILE EDITS_FILE [MODE]: sets top-level-section.key for each "section<TAB>key<TAB>value" line of
# EDITS_FILE (value already in YAML syntax), keeping every other line of FILE — comments included. A key
# that is missing is added to its section; a missing section is appended; a key's old nested value goes.
yaml_edit() {
  local file=$1 edits=$2 mode=${3:-}
  awk -v edits="$edits" '
    function indent_of(s) { match(s, /^[ \t]*/); return substr(s, 1, RLENGTH) }
    function key_of(s,   k) { k = s; sub(/^[ \t]+/, "", k); sub(/[ \t]*:.*$/, "", k); return k }
    function top_level(s) { return s ~ /^[A-Za-z0-9_][A-Za-z0-9_.-]*:([ \t]|$)/ }
    BEGIN {
      while ((getline line < edits) > 0) {
        split(line, f, "\t")
        ne++; es[ne] = f[1]; ek[ne] = f[2]; ev[ne] = f[3]; want[f[1]] = 1
      }
    }
    # Pass 1: the sections, the indent of their keys, and which keys they have.
    NR == FNR {
      if (top_level($0)) { cur = key_of($0); seen[cur] = 1; next }
      if ($0 ~ /^[^ \t#]/) { cur = ""; next }
      if (cur != "" && $0 ~ /^[ \t]+[^ \t#-]/) {
        ind = indent_of($0)
        if (!(cur in cind)) cind[cur] = ind
        if (ind == cind[cur]) have[cur SUBSEP key_of($0)] = 1
      }
      next
    }
    # Pass 2: rewrite.
    {
      line = $0
      if (skipping) {
        if (line ~ /^[ \t]*$/) { held = held line "\n"; next }
        ind = indent_of(line)
        if (length(ind) > length(skip) || (ind == skip && line ~ /^[ \t]*- /)) { held = ""; next }
        skipping = 0; printf "%s", held; held = ""
      }
      if (top_level(line)) {
        cur = key_of(line)
        if (cur in want) {
          rest = line; sub(/^[^:]*:[ \t]*/, "", rest)
          if (rest != "" && rest !~ /^#/) line = cur ":"
          print line
          ci = (cur in cind) ? cind[cur] : "  "
          for (i = 1; i <= ne; i++) if (es[i] == cur && !((cur SUBSEP ek[i]) in have)) print ci ek[i] ": " ev[i]
          next
        }
        print line; next
      }
      if (line ~ /^[^ \t#]/) cur = ""
      if ((cur in want) && line ~ /^[ \t]+[^ \t#-]/ && indent_of(line) == cind[cur]) {
        k = key_of(line)
        for (i = ne; i >= 1; i--) if (es[i] == cur && ek[i] == k) break
        if (i >= 1) { print cind[cur] k ": " ev[i]; skip = cind[cur]; skipping = 1; held = ""; next }
      }
      print line
    }
    END {
      printf "%s", held
      for (i = 1; i <= ne; i++) {
        if (es[i] in seen) continue
        if (!(es[i] in added)) { print ""; print es[i] ":"; added[es[i]] = 1 }
        print "  " ek[i] ": " ev[i]
      }
    }
  ' "$file" "$file" >"$RUN_DIR/yaml-edited"
  # From a file, not a pipe: write_file runs in this shell.
  write_file "$file" "$mode" <"$RUN_DIR/yaml-edited"
}

# yaml_replace_section FILE SECTION BODY_FILE: the whole top-level SECTION becomes BODY_FILE's lines.
yaml_replace_section() {
  local file=$1 section=$2 body=$3
  awk -v section="$section" -v bodyfile="$body" '
    BEGIN { while ((getline line < bodyfile) > 0) body = body line "\n" }
    {
      if (inside) {
        if ($0 ~ /^[ \t]*$/ || $0 ~ /^#/) { held = held $0 "\n"; next }
        if ($0 ~ /^[ \t]/ || $0 ~ /^- /) { held = ""; next }
        inside = 0; printf "%s", held; held = ""
      }
      if (index($0, section ":") == 1 && (length($0) == length(section) + 1 || substr($0, length(section) + 2, 1) ~ /[ \t]/)) {
        print section ":"; printf "%s", body; inside = 1; done = 1; next
      }
      print
    }
    END { printf "%s", held; if (!done) { print ""; print section ":"; printf "%s", body } }
  ' "$file" | write_file "$file"
}

# The app's own config file must be there: it is what the community-scripts install left.
need_file() {
  [[ -f $1 ]] || die 1 "$1 is missing: is this guest really a $APP_TYPE template?"
}

stop_service() {
  try "stopping $1" "$SYSTEMCTL" stop "$1"
}

mqtt_edits() { # SECTION USER_KEY: the MQTT lines both zigbee2mqtt and frigate take
  local section=$1 user_key=$2 quoted
  if [[ -n ${ASSIGNMENT[$user_key]-} ]]; then
    yaml_value quoted "$user_key"
    printf '%s\tuser\t%s\n' "$section" "$quoted"
  fi
  if [[ -n ${ASSIGNMENT[mqtt.password]-} ]]; then
    yaml_value quoted mqtt.password
    printf '%s\tpassword\t%s\n' "$section" "$quoted"
  fi
}

# remember_broker HOST PORT: the broker the app's configuration points at now (what --follow-broker compares with).
remember_broker() {
  if [[ $STEP == configure ]]; then
    write_new "$STATE_DIR/broker" 600 <<<"$1"$'\t'"$2"
  else
    write_file "$STATE_DIR/broker" <<<"$1"$'\t'"$2"
  fi
}

configure_zigbee2mqtt() {
  local dir="$ROOT/opt/zigbee2mqtt/data" edits="$RUN_DIR/edits" port=${ASSIGNMENT[zigbee.port]-} quoted
  need_file "$dir/configuration.yaml"
  stop_service zigbee2mqtt.service
  # Every value straight from ASSIGNMENT (yaml_value): no fork per value.
  {
    yaml_value quoted mqtt.server
    printf 'mqtt\tserver\t%s\n' "$quoted"
    yaml_value quoted mqtt.baseTopic
    printf 'mqtt\tbase_topic\t%s\n' "$quoted"
    mqtt_edits mqtt mqtt.user
    if [[ -n $port ]]; then
      yaml_value quoted zigbee.port
      printf 'serial\tport\t%s\n' "$quoted"
    fi
    yaml_value quoted zigbee.adapter
    printf 'serial\tadapter\t%s\n' "$quoted"
    # From the one jq run of load_assignment (null when missing, as jq printed it).
    printf 'advanced\tnetwork_key\t%s\n' "${ASSIGNMENT[zigbee.networkKey#json]:-null}"
    printf 'advanced\tpan_id\t%s\n' "${ASSIGNMENT[zigbee.panId]:-null}"
    printf 'advanced\text_pan_id\t%s\n' "${ASSIGNMENT[zigbee.extPanId#json]:-null}"
    if [[ ${ASSIGNMENT[zigbee.homeAssistantDiscovery]-} == true ]]; then
      printf 'homeassistant\tenabled\ttrue\n'
    fi
  } >"$edits"
  yaml_edit "$dir/configuration.yaml" "$edits" 600
  # State of the template's Zigbee network (if its service ever ran): it does not match the new keys.
  rm -f -- "$dir/coordinator_backup.json" "$dir/database.db" "$dir/database.db.backup" "$dir/state.json"
  remember_broker "${ASSIGNMENT[mqtt.host]-}" "${ASSIGNMENT[mqtt.port]-}"
  say "configure: zigbee2mqtt wired (MQTT ${ASSIGNMENT[mqtt.host]-}, coordinator ${port:-unchanged}), new network key"
}

configure_zwavejs() {
  local store="$ROOT/opt/zwave_store" settings
  settings="$store/settings.json"
  stop_service zwave-js-ui.service
  [[ -d $store ]] || mkdir -p -- "$store"
  if [[ ! -s $settings ]]; then
    printf '{}\n' >"$settings"
  fi
  # shellcheck disable=SC2016 # a jq program: its $names are jq variables
  "$JQ" --slurpfile a "$RUN_DIR/assignment.json" '
    ($a[0].zwave) as $z
    | .zwave = ((.zwave // {})
        + { serverEnabled: true, serverPort: $z.serverPort, securityKeys: $z.securityKeys, securityKeysLongRange: $z.securityKeysLongRange }
        + (if $z.port then { port: $z.port } else {} end))' "$settings" >"$RUN_DIR/settings.json" 2>"$RUN_DIR/stderr" ||
    die 1 "$settings is not valid JSON: $(first_line "$RUN_DIR/stderr")"
  write_file "$settings" 600 <"$RUN_DIR/settings.json"
  say "configure: zwave-js-ui wired (controller ${ASSIGNMENT[zwave.port]-}), new security keys"
}

configure_frigate() {
  local config="$ROOT/config/config.yml" edits="$RUN_DIR/edits" cameras="$RUN_DIR/cameras" quoted count=0
  need_file "$config"
  stop_service frigate.service
  {
    printf 'mqtt\tenabled\ttrue\n'
    yaml_value quoted mqtt.host
    printf 'mqtt\thost\t%s\n' "$quoted"
    printf 'mqtt\tport\t%s\n' "${ASSIGNMENT[mqtt.port]-}"
    yaml_value quoted mqtt.clientId
    printf 'mqtt\tclient_id\t%s\n' "$quoted"
    yaml_value quoted mqtt.topicPrefix
    printf 'mqtt\ttopic_prefix\t%s\n' "$quoted"
    mqtt_edits mqtt mqtt.user
  } >"$edits"
  yaml_edit "$config" "$edits" 600
  # Cameras from the site settings replace the template's; none there keeps the template's. Whether there are any is
  # in load_assignment's "cameras#json" (no jq run for the common case: none).
  local listed=${ASSIGNMENT[cameras#json]:-[]}
  if [[ $listed != "[]" ]]; then
    : >"$cameras"
    local name url
    while IFS=$'\t' read -r name url; do
      [[ $name =~ ^[A-Za-z0-9_-]+$ ]] || die 1 "camera name '$name' is not valid for Frigate"
      yaml_string_to quoted "$url"
      printf '  %s:\n    ffmpeg:\n      inputs:\n        - path: %s\n          roles:\n            - detect\n' \
        "$name" "$quoted" >>"$cameras"
      count=$((count + 1))
    done < <("$JQ" -r '.cameras[] | [.name, .streamUrl] | @tsv' "$RUN_DIR/assignment.json")
    if ((count > 0)); then
      yaml_replace_section "$config" cameras "$cameras"
    fi
  fi
  remember_broker "${ASSIGNMENT[mqtt.host]-}" "${ASSIGNMENT[mqtt.port]-}"
  say "configure: frigate wired (MQTT ${ASSIGNMENT[mqtt.host]-}, $count camera(s) from the site settings)"
}

configure_docker_portainer() {
  local dir="$ROOT/etc/ctrlable/portainer" image password
  password=${ASSIGNMENT[portainer.password]-}
  [[ -n $password ]] || die 1 "the assignment has no Portainer password"
  mkdir -p -- "$dir"
  chmod 700 -- "$dir"
  printf '%s' "$password" | write_file "$dir/admin_password"
  chmod 600 -- "$dir/admin_password"
  # Docker may still be starting at this point of the boot.
  try "starting docker.service" "$SYSTEMCTL" start docker.service
  # One inspect tells both whether the template's container is there and its image.
  local container=0
  if image=$("$DOCKER" container inspect --format '{{.Config.Image}}' portainer 2>/dev/null); then
    container=1
  else
    image=""
  fi
  image=${image:-portainer/portainer-ce:latest}
  # Portainer's data volume holds its instance keys and certificates from the template build (and no
  # user yet): a new one per guest, and the admin password from the file on the first start.
  if ((container == 1)); then
    try "removing the template's Portainer container" "$DOCKER" rm -f portainer
  fi
  if "$DOCKER" volume inspect portainer_data >/dev/null 2>&1; then
    try "removing the template's Portainer data" "$DOCKER" volume rm portainer_data
  fi
  try "creating the Portainer volume" "$DOCKER" volume create portainer_data
  try "starting Portainer" "$DOCKER" run -d -p 8000:8000 -p 9443:9443 --name=portainer --restart=always \
    -v /var/run/docker.sock:/var/run/docker.sock -v portainer_data:/data \
    -v /etc/ctrlable/portainer/admin_password:/run/secrets/portainer_admin_password:ro \
    "$image" --admin-password-file /run/secrets/portainer_admin_password
  say "configure: portainer recreated with its own data and the assigned admin password"
}

configure_freepbx() {
  local user password hash
  user=${ASSIGNMENT[freepbx.username]-}
  password=${ASSIGNMENT[freepbx.password]-}
  [[ $user =~ ^[A-Za-z0-9_.-]+$ ]] || die 1 "FreePBX admin name '$user' is not valid"
  [[ -n $password ]] || die 1 "the assignment has no FreePBX password"
  hash=$(printf '%s' "$password" | sha1sum)
  hash=${hash%% *}
  # FreePBX signs administrators in against asterisk.ampusers (SHA-1 of the password). The SQL goes in
  # on standard input: neither password nor hash appears in a process list.
  printf "REPLACE INTO ampusers (username, password_sha1, extension_low, extension_high, deptname, sections) VALUES ('%s', '%s', '', '', '', '*');\n" \
    "$user" "$hash" >"$RUN_DIR/freepbx.sql"
  try "starting mariadb.service" "$SYSTEMCTL" start mariadb.service
  try "setting the FreePBX administrator" "$MYSQL" asterisk <"$RUN_DIR/freepbx.sql"
  say "configure: freepbx administrator '$user' set"
}

step_configure() {
  fetch_assignment
  REPORT_FAILURES=1
  case $APP_TYPE in
    zigbee2mqtt) configure_zigbee2mqtt ;;
    zwavejs) configure_zwavejs ;;
    frigate) configure_frigate ;;
    docker-portainer) configure_docker_portainer ;;
    freepbx) configure_freepbx ;;
    *) say "configure: nothing to configure for a $APP_TYPE guest" ;;
  esac
  REPORT_FAILURES=0
}

# --- Step: restart -------------------------------------------------------------------------------

step_restart() {
  local units=()
  case $APP_TYPE in
    zigbee2mqtt) units=(zigbee2mqtt.service) ;;
    zwavejs) units=(zwave-js-ui.service) ;;
    frigate) units=(go2rtc.service frigate.service) ;;
    *) ;; # docker-portainer: configure started the new Portainer; freepbx reads its users per request
  esac
  if ((${#units[@]} == 0)); then
    say "restart: nothing to restart for a ${APP_TYPE:-plain} guest"
    return 0
  fi
  REPORT_FAILURES=1
  try "restarting ${units[*]}" "$SYSTEMCTL" restart "${units[@]}"
  REPORT_FAILURES=0
  say "restart: ${units[*]} restarted"
}

# --- Step: complete ------------------------------------------------------------------------------

# json_safe VALUE...: every value is printable ASCII, so json_text can make it a JSON string.
json_safe() {
  local LC_ALL=C value
  for value in "$@"; do
    [[ $value != *[^[:print:]]* ]] || return 1
  done
}

# json_text VAR VALUE: a printable ASCII value as the inside of a JSON string (backslashes and quotes escaped) into VAR
# (no command substitution: no subshell).
json_text() {
  local json_in=$2 json_bs=\\ json_q='"'
  json_in=${json_in//"$json_bs"/"$json_bs$json_bs"}
  printf -v "$1" '%s' "${json_in//"$json_q"/"$json_bs$json_q"}"
}

# version_file FILE: its first line without blanks, into VERSION_READ (no subshell, no head/tr).
version_file() {
  VERSION_READ=""
  if [[ -s $1 ]]; then
    IFS= read -r VERSION_READ <"$1" || true
    VERSION_READ=${VERSION_READ//[[:space:]]/}
  fi
}

# complete_body STATUS MESSAGE: the complete report (hostname, status, message, and a JSON object app -> version of
# what this guest runs): printed by the shell when every value is printable ASCII (the common case: no jq run), else
# built by one jq run (which escapes anything).
complete_body() {
  local status=$1 message=$2 app="" version="" os="" VERSION_READ package
  version_file "$ROOT/etc/debian_version"
  os=$VERSION_READ
  case $APP_TYPE in
    zigbee2mqtt)
      app=zigbee2mqtt
      # package.json's "version" (its second key) without a jq run.
      package=""
      if [[ -s "$ROOT/opt/zigbee2mqtt/package.json" ]]; then
        package=$(<"$ROOT/opt/zigbee2mqtt/package.json")
      fi
      if [[ $package =~ ^[[:space:]]*\{[^{]*\"version\"[[:space:]]*:[[:space:]]*\"([^\"\\]*)\" ]]; then
        version=${BASH_REMATCH[1]}
      fi
      if [[ -z $version ]]; then
        version_file "$ROOT/root/.zigbee2mqtt"
        version=$VERSION_READ
      fi
      ;;
    zwavejs)
      app=zwave-js-ui
      version_file "$ROOT/root/.zwave-js-ui"
      version=$VERSION_READ
      ;;
    frigate)
      app=frigate
      version_file "$ROOT/root/.frigate"
      version=$VERSION_READ
      ;;
    docker-portainer)
      app=docker
      version=$("$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null) || version=""
      ;;
    *) ;;
  esac
  if json_safe "$GUEST_HOSTNAME" "$status" "$message" "$app" "$version" "$os"; then
    local j_host="" j_status="" j_message="" j_app="" j_version="" j_os="" versions
    json_text j_host "$GUEST_HOSTNAME"
    json_text j_status "$status"
    json_text j_message "$message"
    json_text j_app "$app"
    json_text j_version "$version"
    json_text j_os "$os"
    versions="\"firstboot\":\"$SCRIPT_VERSION\""
    [[ -z $os ]] || versions+=",\"debian\":\"$j_os\""
    [[ -z $app || -z $version ]] || versions+=",\"$j_app\":\"$j_version\""
    printf '{"hostname":"%s","status":"%s","message":"%s","versions":{%s}}\n' "$j_host" "$j_status" "$j_message" "$versions"
    return 0
  fi
  # shellcheck disable=SC2016 # a jq program: its $names are jq variables
  "$JQ" -cn --arg hostname "$GUEST_HOSTNAME" --arg status "$status" --arg message "$message" \
    --arg app "$app" --arg version "$version" --arg os "$os" --arg firstboot "$SCRIPT_VERSION" \
    '{hostname: $hostname, status: $status, message: $message,
      versions: ({firstboot: $firstboot} + (if $os != "" then {debian: $os} else {} end) + (if $app != "" and $version != "" then {($app): $version} else {} end))}'
}

step_complete() {
  local sent_before=0
  if [[ -f "$STATE_DIR/complete.sent" ]]; then
    sent_before=1
  fi
  : >"$STATE_DIR/complete.sent"
  post_complete ok "$GUEST_HOSTNAME is personalised"
  case $HTTP_STATUS in
    2??) say "complete: reported to the orchestrator" ;;
    410)
      # A report an earlier run sent before a power cut took its answer: the orchestrator has it.
      ((sent_before == 1)) ||
        die 3 "the orchestrator says the first boot of $GUEST_HOSTNAME is over (410 Gone): redeploy the instance to start again"
      say "complete: the orchestrator has the report already"
      ;;
    *) die 1 "the orchestrator did not take the report (HTTP $HTTP_STATUS: $(problem_text "$RUN_DIR/complete.out"))" ;;
  esac
}

# --- Step: follow --------------------------------------------------------------------------------

follows_broker() { [[ $APP_TYPE == zigbee2mqtt || $APP_TYPE == frigate ]]; }

# The timers that run after the first boot (see the top of this file): every guest's upgrade timer, and for a
# zigbee2mqtt or frigate guest the one that keeps the app pointed at its broker; follow.env with what their requests
# need besides the credential — no secret.
step_follow() {
  REPORT_FAILURES=1
  # New files (write_new): written in place, one sync for all of them before the step's marker.
  # (Here-documents, not pipes: write_new runs in this shell, so run_step knows what it wrote.)
  local pubkey=""
  [[ -z $TLS_PUBKEY ]] || pubkey="CTRLABLE_ORCHESTRATOR_PUBKEY=$TLS_PUBKEY"
  write_new "$FOLLOW_ENV" 600 <<ENV
CTRLABLE_ORCHESTRATOR_URL=$ORCHESTRATOR_URL
CTRLABLE_ORCHESTRATOR_FINGERPRINT=$TLS_FINGERPRINT
$pubkey
ENV
  [[ -d "$ROOT/etc/systemd/system" ]] || mkdir -p -- "$ROOT/etc/systemd/system"
  write_new "$ROOT/etc/systemd/system/$UPGRADE_UNIT.service" 644 <<'UNIT'
# Ctrlable: run an upgrade of the app the orchestrator has asked for (its snapshot is taken first).
# Installed by ctrlable-firstboot; started by ctrlable-upgrade.timer.
[Unit]
Description=Ctrlable: run an upgrade the orchestrator asked for
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/ctrlable-firstboot --upgrade
StandardOutput=journal
StandardError=journal
UNIT
  write_new "$ROOT/etc/systemd/system/$UPGRADE_UNIT.timer" 644 <<'UNIT'
# Ctrlable: ask the orchestrator every 2 minutes whether an upgrade waits (one small request, 204 when none).
# Installed by ctrlable-firstboot.
[Unit]
Description=Ctrlable: look for an upgrade of the app

[Timer]
OnBootSec=1min
OnUnitActiveSec=2min
RandomizedDelaySec=20s

[Install]
WantedBy=timers.target
UNIT
  if follows_broker; then
    write_new "$ROOT/etc/systemd/system/$FOLLOW_UNIT.service" 644 <<'UNIT'
# Ctrlable: keep the app pointed at its MQTT broker (the site's Home Assistant may get another DHCP address).
# Installed by ctrlable-firstboot; started by ctrlable-broker-follow.timer.
[Unit]
Description=Ctrlable: point the app at its MQTT broker's current address
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/ctrlable-firstboot --follow-broker
StandardOutput=journal
StandardError=journal
UNIT
    write_new "$ROOT/etc/systemd/system/$FOLLOW_UNIT.timer" 644 <<'UNIT'
# Ctrlable: ask the orchestrator every 5 minutes where the MQTT broker is (one small request; no Proxmox call
# while the guest keeps its address). Installed by ctrlable-firstboot.
[Unit]
Description=Ctrlable: follow the MQTT broker's address

[Timer]
OnBootSec=2min
OnUnitActiveSec=5min
RandomizedDelaySec=1min

[Install]
WantedBy=timers.target
UNIT
  fi
  # One systemctl call: enable reloads the manager's configuration itself (as daemon-reload would), --now starts the
  # timers (each call is a round trip to systemd; on a small host a daemon-reload alone takes a noticeable moment).
  local timers=("$UPGRADE_UNIT.timer")
  if follows_broker; then
    timers+=("$FOLLOW_UNIT.timer")
  fi
  try "enabling and starting ${timers[*]}" "$SYSTEMCTL" enable --now "${timers[@]}"
  if follows_broker; then
    say "follow: $FOLLOW_UNIT.timer keeps the MQTT broker's address current"
  fi
  REPORT_FAILURES=0
  say "follow: $UPGRADE_UNIT.timer runs the upgrades the orchestrator asks for"
}

# --- Step: forget --------------------------------------------------------------------------------

# The orchestrator has the report: it refuses the release secret for this guest from now on, and nothing
# after the first boot needs it (template.env stays). Left on disk, the release secret — shared by every
# clone of the release — would outlive its use. The instance credential stays (0600) for the timers: after
# complete it opens only GET /api/provision/broker and the upgrade calls, from this guest's address. A failed
# first boot removes both.
forget_secrets() {
  rm -f -- "$FIRSTBOOT_ENV" "$CREDENTIAL_FILE"
}

step_forget() {
  if [[ -f $FOLLOW_ENV ]]; then
    rm -f -- "$FIRSTBOOT_ENV"
    say "forget: removed $FIRSTBOOT_ENV; $CREDENTIAL_FILE stays for the upgrade and broker timers"
    return 0
  fi
  forget_secrets
  say "forget: removed $FIRSTBOOT_ENV and $CREDENTIAL_FILE"
}

# --- Step: disable -------------------------------------------------------------------------------

step_disable() {
  try "disabling $SERVICE" "$SYSTEMCTL" disable "$SERVICE"
  say "disable: $SERVICE disabled; first boot done"
}

# --- After the first boot: following the broker -------------------------------------------------

load_follow_environment() {
  [[ -r $FOLLOW_ENV ]] || die 1 "cannot read $FOLLOW_ENV: this guest has no timers of its own (its first boot predates them)"
  read_orchestrator_env "$FOLLOW_ENV"
  local what=broker
  [[ $STEP != upgrade ]] || what=upgrades
  [[ -f $CREDENTIAL_FILE ]] || die 1 "$CREDENTIAL_FILE is missing: this guest cannot ask for its $what (redeploy the instance)"
  read_instance_credential
  prepare_requests
}

# follow_broker: one look at where the broker is; the app's configuration is changed (and the app restarted)
# only when the broker moved. A failed look changes nothing: the timer looks again later.
follow_broker() {
  STEP=follow-broker
  [[ -f "$STATE_DIR/done" ]] || die 1 "the first boot is not done yet"
  prepare_run_dir
  load_follow_environment
  read_hostname
  APP_TYPE=$(tr -d '[:space:]' <"$STATE_DIR/type")
  follows_broker || die 1 "a $APP_TYPE guest has no broker to follow"
  ATTEMPTS=${FOLLOW_ATTEMPTS:-3}
  request GET "/api/provision/broker?hostname=$GUEST_HOSTNAME" "" "$RUN_DIR/broker.json"
  [[ $HTTP_STATUS == 200 ]] ||
    die 1 "the orchestrator did not say where the broker is (HTTP $HTTP_STATUS: $(problem_text "$RUN_DIR/broker.json"))"
  local host port server known="" config edits="$RUN_DIR/edits" unit quoted
  # One jq run (this runs on every follow timer tick); an answer that is no JSON leaves all three empty.
  IFS=$'\t' read -r host port server < <("$JQ" -r '[.host, .port, .server] | map(. // "" | tostring) | @tsv' "$RUN_DIR/broker.json" 2>/dev/null) || true
  # Only what an address, a host name and a port look like goes into a configuration file.
  [[ $host =~ ^[A-Za-z0-9.:-]{1,253}$ && $port =~ ^[0-9]{1,5}$ && $server =~ ^mqtts?://[][A-Za-z0-9.:-]+:[0-9]{1,5}$ ]] ||
    die 1 "the orchestrator's answer is not a broker address"
  if [[ -f "$STATE_DIR/broker" ]]; then
    known=$(head -n 1 -- "$STATE_DIR/broker")
  fi
  if [[ $known == "$host"$'\t'"$port" ]]; then
    say "follow-broker: the MQTT broker is still at $host:$port"
    return 0
  fi
  case $APP_TYPE in
    zigbee2mqtt)
      config="$ROOT/opt/zigbee2mqtt/data/configuration.yaml" unit=zigbee2mqtt.service
      need_file "$config"
      yaml_string_to quoted "$server"
      printf 'mqtt\tserver\t%s\n' "$quoted" >"$edits"
      ;;
    frigate)
      config="$ROOT/config/config.yml" unit=frigate.service
      need_file "$config"
      yaml_string_to quoted "$host"
      printf 'mqtt\thost\t%s\nmqtt\tport\t%s\n' "$quoted" "$port" >"$edits"
      ;;
    *) ;;
  esac
  yaml_edit "$config" "$edits" 600
  try "restarting $unit" "$SYSTEMCTL" restart "$unit"
  remember_broker "$host" "$port"
  say "follow-broker: the MQTT broker moved to $host:$port; $config updated and $unit restarted"
}

# --- After the first boot: upgrades -------------------------------------------------------------

# The app's update routine from the release's pinned commit: the ct script and the misc/*.func it sources, fetched at
# that commit (never main), every fetch of main rewritten to the local copy, run as community-scripts runs it inside a
# container (PHS_SILENT=1: update_script without a menu; var_appversion: the release's tag).
run_update_routine() {
  local commit=$1 builder=$2 tag=$3 dir="$RUN_DIR/community-scripts" file
  mkdir -p -- "$dir/ct" "$dir/misc"
  for file in "$builder" misc/build.func misc/api.func misc/core.func misc/error_handler.func misc/tools.func; do
    "$CURL" --fail --silent --show-error --location --max-time 60 --output "$dir/$file" "$COMMUNITY_SCRIPTS_URL/$commit/$file" ||
      { warn "$STEP: cannot fetch $file of community-scripts $commit"; return 1; }
  done
  sed -i -E "s#https?://(raw\.githubusercontent\.com/community-scripts/ProxmoxVE/(refs/heads/)?main|git\.community-scripts\.org/community-scripts/ProxmoxVE/raw/branch/main)/#file://$dir/#g" \
    "$dir/$builder" "$dir"/misc/*.func
  if [[ -n $tag ]]; then
    PHS_SILENT=1 var_appversion=$tag bash "$dir/$builder"
  else
    PHS_SILENT=1 bash "$dir/$builder"
  fi
}

# post_upgrade STATUS MESSAGE RELEASE: POST /api/provision/upgrade/complete: the first boot's complete report (the
# installed versions) plus the release it reports on.
post_upgrade() {
  local status=$1 message=$2 release=$3
  # shellcheck disable=SC2016 # a jq program: its $names are jq variables
  complete_body "$status" "$message" | "$JQ" -c --arg release "$release" '. + {release: $release}' >"$RUN_DIR/upgrade-complete.json"
  request POST /api/provision/upgrade/complete "$RUN_DIR/upgrade-complete.json" "$RUN_DIR/upgrade-complete.out"
}

# upgrade: one look for an upgrade; when one waits, the update routine runs once (a marker per release, so a run cut
# short after it reports again instead of updating twice) and its outcome is reported.
upgrade() {
  STEP=upgrade
  [[ -f "$STATE_DIR/done" ]] || die 1 "the first boot is not done yet"
  prepare_run_dir
  load_follow_environment
  read_hostname
  APP_TYPE=$(tr -d '[:space:]' <"$STATE_DIR/type")
  ATTEMPTS=${FOLLOW_ATTEMPTS:-3}
  request GET "/api/provision/upgrade?hostname=$GUEST_HOSTNAME" "" "$RUN_DIR/upgrade.json"
  case $HTTP_STATUS in
    204)
      say "upgrade: none waits"
      return 0
      ;;
    200) ;;
    *) die 1 "the orchestrator did not say whether an upgrade waits (HTTP $HTTP_STATUS: $(problem_text "$RUN_DIR/upgrade.json"))" ;;
  esac
  local release commit builder tag status=ok message output="$RUN_DIR/update.log"
  IFS=$'\t' read -r release commit builder tag < <("$JQ" -r '[.release, .communityScriptsCommit, .builder, .appVersionTag] | map(. // "" | tostring) | @tsv' "$RUN_DIR/upgrade.json" 2>/dev/null) || true
  # Only what a release, a commit, a builder and a tag look like reaches a URL or a command line.
  [[ $release =~ ^[0-9]{4}\.[0-9]{2}(\.[0-9]+)?$ && $commit =~ ^[0-9a-f]{40}$ && $builder =~ ^ct/[A-Za-z0-9_][A-Za-z0-9_.-]*\.sh$ && $builder != *..* &&
    $tag =~ ^([A-Za-z0-9][A-Za-z0-9._+~-]{0,63})?$ ]] || die 1 "the orchestrator's upgrade order is not a release, commit, builder and version"
  if [[ -f "$STATE_DIR/upgrade-$release.ran" ]]; then
    status=$(head -n 1 -- "$STATE_DIR/upgrade-$release.ran")
    message="the update routine of $builder ran before (its report is sent again)"
  else
    say "upgrade: to release $release: $builder of community-scripts $commit${tag:+ (version $tag)}"
    if [[ -n $UPDATE_ROUTINE ]]; then
      "$UPDATE_ROUTINE" "$commit" "$builder" "$tag" >"$output" 2>&1 || status=failed
    else
      run_update_routine "$commit" "$builder" "$tag" >"$output" 2>&1 || status=failed
    fi
    printf '%s\n' "$status" >"$STATE_DIR/upgrade-$release.ran.tmp"
    mv -f -- "$STATE_DIR/upgrade-$release.ran.tmp" "$STATE_DIR/upgrade-$release.ran"
    if [[ $status == ok ]]; then
      message="$builder's update ran"
    else
      message="$builder's update failed: $(tail -n 1 -- "$output" | tr -d '\r' | cut -c1-300)"
    fi
  fi
  post_upgrade "$status" "$message" "$release"
  case $HTTP_STATUS in
    2??) say "upgrade: reported $status to the orchestrator" ;;
    409) say "upgrade: the orchestrator no longer waits for this report" ;;
    *) die 1 "the orchestrator did not take the upgrade report (HTTP $HTTP_STATUS: $(problem_text "$RUN_DIR/upgrade-complete.out"))" ;;
  esac
}

main() {
  if [[ ${1:-} == --follow-broker ]]; then
    follow_broker
    return 0
  fi
  if [[ ${1:-} == --upgrade ]]; then
    upgrade
    return 0
  fi
  if [[ $# -gt 0 ]]; then
    die 1 "unknown argument '$1' (none, --follow-broker or --upgrade)"
  fi
  if [[ -f "$STATE_DIR/done" ]]; then
    say "first boot was done before; nothing to do"
    return 0
  fi
  if [[ -f "$STATE_DIR/failed" ]]; then
    warn "$STEP: an earlier run failed and told the orchestrator so: redeploy the instance to start again"
    exit 3
  fi
  if [[ -d $STATE_DIR && -d $RUN_DIR ]]; then
    prepare_run_dir
  else
    # One mkdir for both (the run directory 0700 under umask 077).
    mkdir -p -- "$STATE_DIR" "$RUN_DIR"
  fi
  # Once the orchestrator has the report, the steps left need neither the orchestrator nor firstboot.env
  # (which the forget step removes).
  if ! step_done complete; then
    load_environment
    read_hostname
  fi
  if [[ -f "$STATE_DIR/type" ]]; then
    APP_TYPE=$(tr -d '[:space:]' <"$STATE_DIR/type")
  fi

  run_step machine-id step_machine_id
  run_step ssh-host-keys step_ssh_host_keys
  run_step hostname step_hostname
  run_step configure step_configure
  run_step restart step_restart
  run_step follow step_follow
  run_step complete step_complete
  run_step forget step_forget
  run_step disable step_disable
  # The unit's ConditionPathExists=! looks for this file: the service does not even start again.
  # An empty file: creating it is all-or-nothing (as each step's marker).
  : >"$STATE_DIR/done"
}

main "$@"
