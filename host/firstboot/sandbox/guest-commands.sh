#!/usr/bin/env bash
# Stand-ins for the guest commands ctrlable-firstboot.sh runs — systemctl, ssh-keygen,
# systemd-machine-id-setup, hostnamectl, docker and mysql — for when the Proxmox emulator (demo, tests,
# benchmarks) or a test runs the real script in a sandbox root instead of inside a guest. Called through
# a symlink named like the command; each acts inside $ROOT the way the real command acts on a guest,
# and appends the call to $SANDBOX_LOG/calls.log (arguments only: the script never passes a secret as one).
# "curl" runs the real curl (tests use it to cut the power right after a request).
#
# For tests: SANDBOX_KILL_ON="<command> <args prefix>" kills the calling ctrlable-firstboot.sh (a power
# cut mid-way) before a matching call acts, SANDBOX_KILL_AFTER="<text>" after a call whose command line
# contains the text; SANDBOX_FAIL_ON="<command> <args prefix>" makes a matching call fail.
#
# "update-routine COMMIT BUILDER TAG" stands in for the app's community-scripts update routine (ctrlable-firstboot
# --upgrade with UPDATE_ROUTINE): it installs version TAG as that routine would record it (~/.<app>, and Zigbee2MQTT's
# package.json). A file $state_dir/update-fails makes it fail with its first line.
set -euo pipefail

name=${0##*/}
: "${ROOT:?ROOT must name the sandbox root}"
log_dir="${SANDBOX_LOG:-$ROOT/../log}"
state_dir="${SANDBOX_STATE:-$ROOT/../state}"
[[ -d $log_dir && -d $state_dir ]] || mkdir -p -- "$log_dir" "$state_dir"
call="$name $*"
printf '%s\n' "$call" >>"$log_dir/calls.log"

# Kills the script that called us, and every script shell between it and us (command substitutions).
power_cut() {
  local pid=$PPID parent victims=()
  while [[ $pid -gt 1 && -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'ctrlable-firstboot'; do
    victims+=("$pid")
    parent=$(awk '{ print $4 }' "/proc/$pid/stat")
    pid=$parent
  done
  if ((${#victims[@]} > 0)); then
    kill -KILL "${victims[@]}"
  fi
  exit 137
}

if [[ -n ${SANDBOX_KILL_ON:-} && $call == "$SANDBOX_KILL_ON"* ]]; then
  power_cut
fi
if [[ -n ${SANDBOX_FAIL_ON:-} && $call == "$SANDBOX_FAIL_ON"* ]]; then
  echo "$name: simulated failure of '$call'" >&2
  exit 1
fi

systemctl_cmd() {
  local verb=${1:-} unit=${2:-}
  case $verb in
    disable) rm -f -- "$ROOT"/etc/systemd/system/*.wants/"$unit" ;;
    enable)
      # enable [--now] UNIT...: --now starts them too (nothing to do here beyond the record in calls.log).
      shift
      [[ ${1:-} != --now ]] || shift
      [[ -d $ROOT/etc/systemd/system/multi-user.target.wants ]] || mkdir -p -- "$ROOT/etc/systemd/system/multi-user.target.wants"
      for unit in "$@"; do
        ln -sfn "/etc/systemd/system/$unit" "$ROOT/etc/systemd/system/multi-user.target.wants/$unit"
      done
      ;;
    is-enabled)
      if compgen -G "$ROOT/etc/systemd/system/*.wants/$unit" >/dev/null; then
        echo enabled
      else
        echo disabled
        exit 1
      fi
      ;;
    start | stop | restart | try-restart | reload | daemon-reload | is-active) ;;
    *)
      echo "systemctl (sandbox): unknown verb '$verb'" >&2
      exit 1
      ;;
  esac
}

ssh_keygen_cmd() {
  local prefix=""
  while (($# > 0)); do
    case $1 in
      -f)
        prefix=$2
        shift
        ;;
      *) ;;
    esac
    shift
  done
  [[ -n $prefix ]] || { echo "ssh-keygen (sandbox): -A needs -f <sandbox root>" >&2; exit 1; }
  # As -A: each missing host key type. Real keys when ssh-keygen is here, but RSA at 1024 bits: -A's 3072-bit
  # RSA costs about 0.7 s of a core per first boot, and the sandbox's keys only need to be new and unique.
  local type key
  local -a size
  for type in rsa ecdsa ed25519; do
    key="$prefix/etc/ssh/ssh_host_${type}_key"
    [[ ! -f $key ]] || continue
    if [[ -x /usr/bin/ssh-keygen ]]; then
      size=()
      [[ $type != rsa ]] || size=(-b 1024)
      /usr/bin/ssh-keygen -q -t "$type" "${size[@]}" -N '' -C root@sandbox -f "$key"
    else
      head -c 48 /dev/urandom | base64 >"$key"
      printf 'ssh-%s %s root@sandbox\n' "$type" "$(head -c 32 /dev/urandom | base64)" >"$key.pub"
    fi
  done
}

machine_id_cmd() {
  local root=/
  for arg in "$@"; do
    case $arg in --root=*) root=${arg#--root=} ;; *) ;; esac
  done
  [[ $root != / ]] || { echo "systemd-machine-id-setup (sandbox): needs --root=<sandbox root>" >&2; exit 1; }
  [[ -d $root/etc ]] || mkdir -p -- "$root/etc"
  # 128 random bits as 32 hex digits, as the real command writes them; from bash's $SRANDOM (getrandom()): no process,
  # so the stand-in costs no more than the real command.
  printf '%08x%08x%08x%08x\n' "$SRANDOM" "$SRANDOM" "$SRANDOM" "$SRANDOM" >"$root/etc/machine-id"
}

hostnamectl_cmd() {
  case ${1:-} in
    hostname | "")
      # The builtin read, not cat: no process (the stand-in costs no more than the real command).
      local name="" file="$ROOT/etc/hostname"
      [[ ! -f $state_dir/hostname ]] || file="$state_dir/hostname"
      IFS= read -r name <"$file" || [[ -n $name ]]
      printf '%s\n' "$name"
      ;;
    set-hostname)
      printf '%s\n' "$2" >"$ROOT/etc/hostname"
      printf '%s\n' "$2" >"$state_dir/hostname"
      ;;
    *) ;;
  esac
}

# docker: containers and volumes are files under $state_dir/docker.
docker_cmd() {
  local containers="$state_dir/docker/containers" volumes="$state_dir/docker/volumes"
  mkdir -p -- "$containers" "$volumes"
  case "${1:-} ${2:-}" in
    "container inspect")
      shift 2
      local format="" target=""
      while (($# > 0)); do
        case $1 in
          --format)
            format=$2
            shift
            ;;
          *) target=$1 ;;
        esac
        shift
      done
      if [[ ! -f "$containers/$target" ]]; then
        echo "Error: No such container: $target" >&2
        exit 1
      fi
      if [[ $format == *Config.Image* ]]; then head -n 1 -- "$containers/$target"; else echo '[{}]'; fi
      ;;
    "rm -f") rm -f -- "$containers/$3" ;;
    "volume inspect") [[ -f "$volumes/$3" ]] || { echo "Error: No such volume: $3" >&2; exit 1; } ;;
    "volume rm") rm -f -- "$volumes/$3" ;;
    "volume create")
      printf 'created by the sandbox\n' >"$volumes/$3"
      echo "$3"
      ;;
    "version --format") echo "27.5.1" ;;
    run*)
      shift
      local container="" image="" rest=()
      while (($# > 0)); do
        case $1 in
          --name=*) container=${1#--name=} ;;
          --name)
            container=$2
            shift
            ;;
          -p | -v | -e | --network | --restart)
            shift
            ;;
          -*) ;;
          *)
            image=$1
            shift
            rest=("$@")
            break
            ;;
        esac
        shift
      done
      printf '%s\n%s\n' "$image" "${rest[*]}" >"$containers/$container"
      echo "sandbox-${container}-0123456789ab"
      ;;
    *) ;;
  esac
}

update_routine_cmd() {
  local builder=${2:-} tag=${3:-} version
  if [[ -f "$state_dir/update-fails" ]]; then
    echo "update-routine (sandbox): $(head -n 1 -- "$state_dir/update-fails")" >&2
    exit 1
  fi
  # tools.func records the version without a leading v (fetch_and_deploy_gh_release).
  version=${tag#v}
  case $builder in
    ct/zwave-js-ui.sh) [[ -z $version ]] || printf '%s\n' "$version" >"$ROOT/root/.zwave-js-ui" ;;
    ct/zigbee2mqtt.sh)
      if [[ -n $version ]]; then
        printf '%s\n' "$version" >"$ROOT/root/.zigbee2mqtt"
        printf '{"name":"zigbee2mqtt","version":"%s"}\n' "$version" >"$ROOT/opt/zigbee2mqtt/package.json"
      fi
      ;;
    *) ;;
  esac
  echo "update-routine (sandbox): $builder updated${version:+ to $version}"
}

case $name in
  update-routine) update_routine_cmd "$@" ;;
  curl)
    status=0
    /usr/bin/curl "$@" || status=$?
    if [[ -n ${SANDBOX_KILL_AFTER:-} && $call == *"$SANDBOX_KILL_AFTER"* ]]; then
      power_cut
    fi
    exit "$status"
    ;;
  systemctl) systemctl_cmd "$@" ;;
  ssh-keygen) ssh_keygen_cmd "$@" ;;
  systemd-machine-id-setup) machine_id_cmd "$@" ;;
  hostnamectl) hostnamectl_cmd "$@" ;;
  docker) docker_cmd "$@" ;;
  mysql) cat >>"$log_dir/mysql.sql" ;;
  *)
    echo "guest-commands: no stand-in for '$name'" >&2
    exit 1
    ;;
esac
