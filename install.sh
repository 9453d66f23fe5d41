#!/usr/bin/env bash
# install.sh — installs the Ctrlable Provisioner (the orchestrator) on a Proxmox VE host, as root:
#   bash install.sh --bundle ctrlable-provisioner-<version>-linux-x64.tar.gz
#
# It gives the orchestrator least-privilege Proxmox access (pools, a role with exactly the privileges the
# product needs, a user and a privilege-separated API token, ACLs — never Administrator), creates its LXC
# (Debian 12, unprivileged), installs the bundle and its hardened systemd unit inside, wires the restricted
# build trigger on this host, and prints the orchestrator's URL, TLS fingerprint and how to create the first
# admin. Idempotent: a second run changes nothing and says so. --dry-run prints every command it would run.
#
# Root on a customer's host is a trust it never abuses: it records what it creates in an install record
# ($CONF_DIR/install.state) and marks it (its install id in the comment or description of the pool, user, token
# and container; the hash of each file it wrote; the exact authorized_keys line). A re-run changes, replaces or
# removes only what the record lists and still carries the mark; anything else of the same name is reported and
# left alone (a clear line and a non-zero exit).
#
# Every host path and command is overridable by environment (see "settings") so tests run the real script
# in a sandbox root against the Proxmox emulator.
set -euo pipefail
umask 077

readonly MIN_PVE=8.2
readonly USER_ID=ctrlable@pve
readonly TOKEN_NAME=provisioner
readonly TOKEN_ID="$USER_ID!$TOKEN_NAME"
readonly ROLE_ID=CtrlableProvisioner
# On the templates' pool: clone them, and remove those of old releases the orchestrator built (SPEC §8a).
readonly TEMPLATE_ROLE_ID=CtrlableTemplates
readonly TEMPLATE_ROLE_PRIVS="VM.Audit VM.Clone VM.Allocate"
readonly SERVICE=ctrlable-provisioner.service
readonly CT_DATA=/var/lib/ctrlable-provisioner
readonly CT_ETC=/etc/ctrlable-provisioner
readonly CT_APP=/opt/ctrlable-provisioner
readonly CT_BUNDLE=/root/ctrlable-provisioner.tar.gz

# The privileges the product needs (the emulator's Seeding/LeastPrivilege.cs; a test checks they agree).
# PVE 9 replaced VM.Monitor with VM.GuestAgent.Audit (the QEMU agent's network-get-interfaces). VM.Snapshot and
# VM.Snapshot.Rollback: an upgrade's snapshot, rollback and later delete (SPEC §7g), on the product's pool only.
# VM.Backup: vzdump of the pool's guests and restoring their archives (SPEC §8h); on the backup storage the same role
# gives Datastore.AllocateSpace/Audit (never Datastore.Allocate: retention removes only the orchestrator's own archives).
role_privileges() {
  local agent=VM.GuestAgent.Audit
  if (($1 < 9)); then agent=VM.Monitor; fi
  printf '%s' "VM.Audit VM.Allocate VM.Backup VM.Clone VM.Config.CPU VM.Config.Memory VM.Config.Network VM.Config.Options VM.PowerMgmt VM.Snapshot VM.Snapshot.Rollback $agent Datastore.AllocateSpace Datastore.Audit SDN.Use Sys.Audit Pool.Audit"
}

# --- settings (environment) ------------------------------------------------------------------------------
host_root=${CTRLABLE_HOST_ROOT:-}
AUTHORIZED_KEYS=${CTRLABLE_AUTHORIZED_KEYS:-$host_root/root/.ssh/authorized_keys}
SBIN_DIR=${CTRLABLE_SBIN_DIR:-$host_root/usr/local/sbin}
CONF_DIR=${CTRLABLE_CONF_DIR:-$host_root/etc/ctrlable}
FIRSTBOOT_DIR=${CTRLABLE_FIRSTBOOT_DIR:-$host_root/usr/local/share/ctrlable/firstboot}
PVE_ETC=${CTRLABLE_PVE_ETC:-$host_root/etc/pve}
HOST_KEY_PUB=${CTRLABLE_HOST_KEY_PUB:-$host_root/etc/ssh/ssh_host_ed25519_key.pub}
EFFECTIVE_UID=${CTRLABLE_EUID:-$EUID}
PYTHON=${CTRLABLE_PYTHON:-python3}
CURL=${CTRLABLE_CURL:-curl}
WAIT_SECONDS=${CTRLABLE_WAIT_SECONDS:-120}
STATE_FILE=${CTRLABLE_INSTALL_STATE:-$CONF_DIR/install.state}

# --- options ---------------------------------------------------------------------------------------------
bundle="" vmid="" hostname=ctrlable-provisioner storage=local-lvm template_storage=local backup_storage=local backup_storage_given=0 bridge=vmbr0 vlan=""
ip=dhcp gateway="" memory=1024 cores=1 disk=4 node="" proxmox_url="" host_address="" port=8443 dry_run=0

usage() {
  cat <<'EOF'
Usage: install.sh [options]     (as root on the Proxmox VE host)

Installs the Ctrlable Provisioner in its own unprivileged LXC with least-privilege Proxmox access.
Running it again changes only what differs (and says so when nothing does). It changes only what it
created itself (listed in /etc/ctrlable/install.state and marked with its install id); a user, role, container
or file of the same name that it did not create is reported and left alone, and the run exits non-zero.

  --bundle PATH|URL        the orchestrator bundle, ctrlable-provisioner-<version>-linux-x64.tar.gz; a
                           .sha256 beside it (PATH.sha256 or URL.sha256) is verified. Default: the one
                           tarball beside this script.
  --vmid N                 container id. Default: the existing container named by --hostname, else the
                           next free id.
  --hostname NAME          container host name (default ctrlable-provisioner)
  --storage ID             storage for the container's disk and for the guests it deploys (default local-lvm)
  --template-storage ID    storage holding container templates (vztmpl) (default local)
  --backup-storage ID|none storage the projects' guest backups may go to (content backup); the token gets
                           Datastore.AllocateSpace/Audit there (default local when it holds backups; none: no grant)
  --bridge NAME            network bridge (default vmbr0)
  --vlan TAG               VLAN tag on the bridge (default none)
  --ip CIDR|dhcp           container address, e.g. 192.168.1.20/24, or dhcp (default dhcp)
  --gateway IP             gateway for a static --ip
  --memory MIB             container memory, at least 512 (default 1024)
  --cores N                container cores (default 1)
  --disk GIB               container disk size (default 4)
  --port N                 orchestrator HTTPS port (default 8443)
  --node NAME              this node's name in Proxmox (default: hostname)
  --proxmox-url URL        Proxmox API URL as the container reaches it (default https://<bridge address>:8006)
  --host-address IP        this host's address for the build trigger over SSH (default: bridge address)
  --dry-run                print every command that would change something; change nothing
  -h, --help               this help

Environment (tests): CTRLABLE_HOST_ROOT prefixes every host path; CTRLABLE_AUTHORIZED_KEYS,
CTRLABLE_SBIN_DIR, CTRLABLE_CONF_DIR, CTRLABLE_FIRSTBOOT_DIR, CTRLABLE_PVE_ETC, CTRLABLE_HOST_KEY_PUB,
CTRLABLE_INSTALL_STATE override single paths; CTRLABLE_EUID the root check.
EOF
}

# One readable line on stderr, then stop.
die() {
  printf 'install.sh: %s\n' "$*" >&2
  exit 1
}

need_value() { (($2 >= 2)) || die "$1 needs a value (see --help)"; }

while (($# > 0)); do
  case $1 in
    --bundle) need_value "$1" $#; bundle=$2; shift 2 ;;
    --vmid) need_value "$1" $#; vmid=$2; shift 2 ;;
    --hostname) need_value "$1" $#; hostname=$2; shift 2 ;;
    --storage) need_value "$1" $#; storage=$2; shift 2 ;;
    --template-storage) need_value "$1" $#; template_storage=$2; shift 2 ;;
    --backup-storage) need_value "$1" $#; backup_storage=$2; backup_storage_given=1; shift 2 ;;
    --bridge) need_value "$1" $#; bridge=$2; shift 2 ;;
    --vlan) need_value "$1" $#; vlan=$2; shift 2 ;;
    --ip) need_value "$1" $#; ip=$2; shift 2 ;;
    --gateway) need_value "$1" $#; gateway=$2; shift 2 ;;
    --memory) need_value "$1" $#; memory=$2; shift 2 ;;
    --cores) need_value "$1" $#; cores=$2; shift 2 ;;
    --disk) need_value "$1" $#; disk=$2; shift 2 ;;
    --port) need_value "$1" $#; port=$2; shift 2 ;;
    --node) need_value "$1" $#; node=$2; shift 2 ;;
    --proxmox-url) need_value "$1" $#; proxmox_url=$2; shift 2 ;;
    --host-address) need_value "$1" $#; host_address=$2; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

# --- option checks -----------------------------------------------------------------------------------------
[[ -z $vmid || $vmid =~ ^[1-9][0-9]{2,8}$ ]] || die "--vmid must be a number of at least 100 (got '$vmid')"
[[ $hostname =~ ^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$ ]] || die "--hostname must be a DNS label (got '$hostname')"
[[ $storage =~ ^[A-Za-z][A-Za-z0-9_.-]*$ ]] || die "--storage is not a storage id (got '$storage')"
[[ $template_storage =~ ^[A-Za-z][A-Za-z0-9_.-]*$ ]] || die "--template-storage is not a storage id (got '$template_storage')"
[[ $backup_storage =~ ^[A-Za-z][A-Za-z0-9_.-]*$ ]] || die "--backup-storage is not a storage id or none (got '$backup_storage')"
[[ $bridge =~ ^[A-Za-z][A-Za-z0-9_.-]{0,14}$ ]] || die "--bridge is not an interface name (got '$bridge')"
[[ -z $vlan || ($vlan =~ ^[0-9]{1,4}$ && $vlan -ge 1 && $vlan -le 4094) ]] || die "--vlan must be 1-4094 (got '$vlan')"
[[ $ip == dhcp || $ip =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$ ]] || die "--ip must be dhcp or an IPv4 address with prefix such as 192.168.1.20/24 (got '$ip')"
[[ -z $gateway || $gateway =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ ]] || die "--gateway must be an IPv4 address (got '$gateway')"
[[ -z $gateway || $ip != dhcp ]] || die "--gateway goes with a static --ip, not dhcp"
[[ $memory =~ ^[0-9]+$ && $memory -ge 512 ]] || die "--memory must be at least 512 (MiB) (got '$memory')"
[[ $cores =~ ^[1-9][0-9]?$ ]] || die "--cores must be 1-99 (got '$cores')"
[[ $disk =~ ^[1-9][0-9]{0,3}$ && $disk -ge 2 ]] || die "--disk must be at least 2 (GiB) (got '$disk')"
[[ $port =~ ^[0-9]{1,5}$ && $port -ge 1024 && $port -le 65535 ]] || die "--port must be 1024-65535 (got '$port')"
[[ -z $node || $node =~ ^[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?$ ]] || die "--node must be a node name (got '$node')"
[[ -z $proxmox_url || $proxmox_url =~ ^https://[^/?#[:space:]]+/?$ ]] || die "--proxmox-url must be https://HOST[:PORT] (got '$proxmox_url')"
[[ -z $host_address || $host_address =~ ^[A-Za-z0-9.:-]+$ ]] || die "--host-address must be an address or host name (got '$host_address')"

# --- output and running ------------------------------------------------------------------------------------
changes=0
left_alone=0
say() { printf '%s\n' "$*"; }
unchanged() { say "  ok       $*"; }
# Something install.sh would change but did not create: reported, left alone; the run ends non-zero.
skipped() {
  left_alone=$((left_alone + 1))
  say "  skipped  $*"
}
# Something of the product's name that this installation did not create, and the run cannot go on without it.
refuse() { die "$* (install.sh changes only what it created itself; see $STATE_FILE)"; }
changed() {
  changes=$((changes + 1))
  if ((dry_run)); then say "  would    $*"; else say "  changed  $*"; fi
}
# Runs a command that changes something; with --dry-run only prints it (on fd 3: the terminal's stdout even
# where the command's own output is discarded).
exec 3>&1
run() {
  if ((dry_run)); then
    printf '    + %s\n' "$(quote "$@")" >&3
  else
    "$@"
  fi
}
quote() {
  local out="" arg
  for arg in "$@"; do
    if [[ $arg =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then out+="$arg "; else out+="$(printf '%q' "$arg") "; fi
  done
  printf '%s' "${out% }"
}

# json EXPR: evaluates a Python expression over the JSON document d on stdin; lists print one item a line.
json() {
  "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
r = eval(sys.argv[1])
for x in (r if isinstance(r, list) else [r]):
    if x is None: continue
    print(x if isinstance(x, str) else json.dumps(x))
' "$1"
}
api() { pvesh get "$@" --output-format json; }
# contains LINE: whether stdin has that exact line (reads all of it: no early exit, no broken pipe).
contains() {
  local line found=1
  while IFS= read -r line; do [[ $line == "$1" ]] && found=0; done
  return $found
}

# --- the install record ------------------------------------------------------------------------------------
# One "KEY<TAB>VALUE" a line: install-id, pool:<id>, role:<id> (the privileges written), user:<id>, token:<id>,
# acl:<path> <role> <kind> <id>, ct (VMID), file:<path> (sha256 written), authorized-key (the line). An entry is
# written before the thing is created (a cut-short run leaves an entry whose thing is missing or unmarked, which
# a re-run treats as missing or as not ours), a file's after it was written. A dry run writes nothing.
ledger_get() {
  [[ -f $STATE_FILE ]] || return 1
  K=$1 awk -F'\t' '$1 == ENVIRON["K"] { v = substr($0, length($1) + 2); found = 1 } END { if (found) print v; exit !found }' "$STATE_FILE"
}
ledger_write() {
  local key=$1 tmp
  mkdir -p "$(dirname "$STATE_FILE")"
  tmp=$(mktemp "$STATE_FILE.XXXXXX")
  if [[ -f $STATE_FILE ]]; then
    K=$key awk -F'\t' '$1 != ENVIRON["K"]' "$STATE_FILE" >"$tmp"
  else
    printf '# Written by install.sh: what this installation created; a re-run changes only what is listed here.\n' >"$tmp"
  fi
  if (($# > 1)); then printf '%s\t%s\n' "$key" "$2" >>"$tmp"; fi
  chmod 0600 "$tmp"
  mv -f "$tmp" "$STATE_FILE"
}
ledger_set() { ((dry_run)) || ledger_write "$1" "$2"; }
ledger_del() { ((dry_run)) || ledger_write "$1"; }
# owns KEY TEXT: the record lists KEY and TEXT (a comment or description) carries this installation's mark.
owns() { ledger_get "$1" >/dev/null && [[ $2 == *"$marker"* ]]; }

ct_script=""
# Runs deploy/ct-setup.sh inside the container (the bundle's copy, so the host and the container agree).
# A read-only question to the container (runs in a dry run too); false when the container does not exist yet.
ct_check() {
  ((new_ct && dry_run)) && return 1
  pct exec "$vmid" -- bash -c "$ct_script" ct-setup "$@" >/dev/null 2>&1
}

ct_setup() {
  if ((dry_run)); then
    # shellcheck disable=SC2016 # printed literally: the command as a user would type it
    printf '    + pct exec %s -- bash -c "$(cat deploy/ct-setup.sh)" ct-setup %s\n' "$vmid" "$*" >&3
  else
    pct exec "$vmid" -- bash -c "$ct_script" ct-setup "$@"
  fi
}

# --- 1. preflight --------------------------------------------------------------------------------------------
say "Ctrlable Provisioner install$( ((dry_run)) && printf ' (dry run: nothing is changed)')"
say "1. Preflight"
[[ $EFFECTIVE_UID == 0 ]] || die "must run as root (on the Proxmox VE host)"
for tool in pveversion pveum pvesh pct pveam openssl ssh-keygen "$PYTHON" tar sha256sum; do
  command -v "$tool" >/dev/null || die "'$tool' not found: run this on a Proxmox VE host"
done

pve_line=$(pveversion 2>/dev/null) || die "pveversion failed: is this a Proxmox VE host?"
[[ $pve_line =~ pve-manager/([0-9]+)\.([0-9]+)(\.[0-9]+)?/ ]] || die "cannot read the Proxmox VE version from '$pve_line'"
pve_major=${BASH_REMATCH[1]} pve_minor=${BASH_REMATCH[2]}
pve_version="$pve_major.$pve_minor${BASH_REMATCH[3]}"
if ((pve_major < ${MIN_PVE%.*} || (pve_major == ${MIN_PVE%.*} && pve_minor < ${MIN_PVE#*.}))); then
  die "Proxmox VE $pve_version is too old: $MIN_PVE or later is needed"
fi
unchanged "Proxmox VE $pve_version"

# On a cluster member /cluster/status names this node ("local"): the container, the build trigger and its files are
# this node's, so install.sh installs on the node it runs on.
cluster_status=$(api /cluster/status) || die "cannot read /cluster/status: is pve-cluster running?"
local_node=$(json "next((e['name'] for e in d if e.get('type') == 'node' and e.get('local')), None)" <<<"$cluster_status")
if [[ -z $node ]]; then node=${local_node:-$(hostname)}; fi
if [[ -n $local_node && $node != "$local_node" ]]; then
  die "this is node $local_node, not $node: run install.sh on the node that is to hold the container and the build trigger"
fi
node_status=$(api "/nodes/$node/status" 2>/dev/null) || die "node '$node' is not known to Proxmox (pass --node)"

# The build trigger runs here and builds the templates onto --storage (the OS templates on --template-storage): a
# storage that only other cluster members have (storage.cfg's "nodes") is refused with where it is.
storage_config=$(api /storage)
only_elsewhere() { json "next((s['nodes'] for s in d if s['storage'] == '$1' and s.get('nodes') and '$node' not in s['nodes'].split(',')), None)" <<<"$storage_config"; }
for sid in "$storage" "$template_storage"; do
  elsewhere=$(only_elsewhere "$sid")
  [[ -z $elsewhere ]] || die "storage '$sid' is local to node $elsewhere, not to this node $node: the build trigger builds the templates on the node that holds their storage; run install.sh on $elsewhere, or pass a storage $node has"
done
storages=$(api "/nodes/$node/storage")
has_storage() { json "[s['storage'] for s in d if s.get('active', 1) and '$2' in s.get('content', '').split(',')]" <<<"$storages" | contains "$1"; }
has_storage "$storage" rootdir || die "storage '$storage' does not exist on node $node or holds no containers (rootdir); available: $(json "','.join(s['storage'] for s in d if 'rootdir' in s.get('content', ''))" <<<"$storages")"
has_storage "$template_storage" vztmpl || die "storage '$template_storage' does not exist on node $node or holds no container templates (vztmpl)"
if [[ $backup_storage != none ]] && ! has_storage "$backup_storage" backup; then
  # Asked for by name: it must be there. The default is only taken when the host has it.
  ((backup_storage_given)) && die "storage '$backup_storage' does not exist on node $node or holds no backups (backup); available: $(json "','.join(s['storage'] for s in d if 'backup' in s.get('content', '').split(','))" <<<"$storages")"
  backup_storage=none
fi
bridges=$(api "/nodes/$node/network" --type any_bridge)
json "[b['iface'] for b in d]" <<<"$bridges" | contains "$bridge" || die "bridge '$bridge' does not exist on node $node"
unchanged "node $node, storage $storage, templates on $template_storage, backups on $backup_storage, bridge $bridge"
cluster_name=$(json "next((e['name'] for e in d if e.get('type') == 'cluster'), None)" <<<"$cluster_status")
if [[ -n $cluster_name ]]; then
  # Users, roles, tokens, pools and ACLs live in pmxcfs (/etc/pve/user.cfg): set once, from here, for every node.
  unchanged "cluster $cluster_name, nodes: $(json "', '.join(e['name'] + (' (this node)' if e.get('local') else '') + ('' if e.get('online') else ' (offline)') for e in d if e.get('type') == 'node')" <<<"$cluster_status")"
  unchanged "access (user, role, token, pools, ACLs) is cluster-wide: set once, from this node"
  # Templates are built here, on --storage; Proxmox clones onto another node only from shared storage (clone: "target
  # ... Only allowed if the original VM is on shared storage").
  if [[ $(json "next((s.get('shared', 0) for s in d if s['storage'] == '$storage'), 0)" <<<"$storage_config") == 1 ]]; then
    unchanged "build trigger on $node; storage $storage is shared: $node (this node) builds the templates, which serve every node"
  else
    unchanged "build trigger on $node; storage $storage is not shared: the templates built here are on $node only"
  fi
fi

# This installation's record: its id marks what it creates.
if [[ -L $STATE_FILE || (-e $STATE_FILE && ! -f $STATE_FILE) ]]; then
  die "$STATE_FILE is not a regular file: install.sh keeps its install record there; move it away and run again"
fi
install_id=$(ledger_get install-id || true)
if [[ -z $install_id ]]; then
  install_id=$(openssl rand -hex 8)
  unchanged "new installation (install id $install_id; what it creates is recorded in $STATE_FILE)"
elif [[ $install_id =~ ^[0-9a-f]{16}$ ]]; then
  unchanged "installation $install_id ($STATE_FILE)"
else
  die "$STATE_FILE holds no valid install id: it was edited; restore it or move it away"
fi
marker="ctrlable-install:$install_id"

# The existing installation, if any: the container the record lists, when it still carries the mark. A container
# of the same name or at --vmid that this installation did not create is never used.
guests=$(api /cluster/resources --type vm)
guest_field() { json "next((g.get('$2') for g in d if g.get('vmid') == $1), None)" <<<"$guests"; }
existing=""
if recorded=$(ledger_get ct) && [[ $recorded =~ ^[0-9]+$ ]]; then
  if [[ -z $(guest_field "$recorded" vmid) ]]; then
    unchanged "CT $recorded of this installation no longer exists: a new container is created"
  else
    description=""
    if [[ $(guest_field "$recorded" type) == lxc ]]; then
      description=$(api "/nodes/$(guest_field "$recorded" node)/lxc/$recorded/config" | json "d.get('description', '')")
    fi
    if [[ $description != *"$marker"* ]]; then
      # Its VMID now holds a guest without this installation's mark: never used, whatever its name.
      [[ -n $vmid && $vmid != "$recorded" ]] || refuse "VMID $recorded, this installation's container, now holds a guest without its mark ($marker): it is left alone; pass --vmid for a new container"
      unchanged "VMID $recorded (this installation's container before) holds a guest without its mark: left alone; a new container is created"
    else
      [[ $(guest_field "$recorded" node) == "$node" ]] || die "CT $recorded, this installation's container, is on node $(guest_field "$recorded" node), not $node: pass --node $(guest_field "$recorded" node)"
      existing=$recorded
    fi
  fi
fi
if [[ -n $existing && -n $vmid && $vmid != "$existing" ]]; then
  die "this installation's container is CT $existing: run without --vmid, or with --vmid $existing"
fi
if [[ -z $existing ]]; then
  if [[ -n $vmid && -n $(guest_field "$vmid" vmid) ]]; then
    refuse "VMID $vmid is taken by a guest this installation did not create: it is left alone; pick another --vmid"
  fi
  named=$(json "min([g['vmid'] for g in d if g.get('type') == 'lxc' and g.get('name') == '$hostname'], default=None)" <<<"$guests")
  if [[ -n $named ]]; then
    refuse "a container named '$hostname' (CT $named) exists that this installation did not create: it is left alone; pass another --hostname, or remove it"
  fi
fi
if [[ -z $existing ]]; then
  new_ct=1
  if [[ -z $vmid ]]; then vmid=$(pvesh get /cluster/nextid); fi
  # "available" (free plus reclaimable cache) is reported from PVE 8.3 on; 8.2 only has "free".
  free_mib=$(json "d['memory'].get('available', d['memory']['free']) // 1048576" <<<"$node_status")
  ((free_mib >= memory)) || die "not enough free memory on $node: $memory MiB needed, $free_mib MiB available"
  free_gib=$(json "[s['avail'] // 1073741824 for s in d if s['storage'] == '$storage'][0]" <<<"$storages")
  ((free_gib >= disk)) || die "not enough free space on storage $storage: $disk GiB needed, $free_gib GiB free"
  unchanged "resources: $memory MiB memory and $disk GiB on $storage are free"
else
  new_ct=0
  vmid=$existing
  unchanged "existing container CT $vmid of this installation"
fi

# The bundle: a local file or a URL, checked against its .sha256 when one is there.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ -z $bundle ]]; then
  # Beside this script, or (run from the unpacked bundle) the tarball it came from.
  shopt -s nullglob
  found=("$script_dir"/ctrlable-provisioner-*-linux-x64.tar.gz)
  shopt -u nullglob
  if [[ -f $script_dir/VERSION && -f $script_dir/../ctrlable-provisioner-$(<"$script_dir/VERSION")-linux-x64.tar.gz ]]; then
    found+=("$script_dir/../ctrlable-provisioner-$(<"$script_dir/VERSION")-linux-x64.tar.gz")
  fi
  ((${#found[@]} == 1)) || die "--bundle is required (found ${#found[@]} bundles beside install.sh)"
  bundle=${found[0]}
fi
if [[ $bundle =~ ^https?:// ]]; then
  fetch_error=$("$CURL" -fsSL -o "$work/bundle.tar.gz" "$bundle" 2>&1) || die "cannot download the bundle from $bundle (${fetch_error//$'\n'/ })"
  if "$CURL" -fsSL -o "$work/bundle.sha256" "$bundle.sha256" 2>/dev/null; then checksum=$work/bundle.sha256; else checksum=""; fi
  bundle_file=$work/bundle.tar.gz
else
  [[ -f $bundle ]] || die "bundle not found: $bundle"
  bundle_file=$bundle
  checksum=""
  if [[ -f $bundle.sha256 ]]; then checksum=$bundle.sha256; fi
fi
if [[ -n $checksum ]]; then
  want=$(cut -d' ' -f1 <"$checksum")
  have=$(sha256sum "$bundle_file" | cut -d' ' -f1)
  [[ $want == "$have" ]] || die "bundle checksum mismatch: expected $want, got $have"
fi
tar -xzf "$bundle_file" -C "$work" || die "cannot unpack the bundle $bundle"
shopt -s nullglob
unpacked=("$work"/ctrlable-provisioner-*/)
shopt -u nullglob
if ((${#unpacked[@]} != 1)) || [[ ! -f ${unpacked[0]}VERSION || ! -f ${unpacked[0]}deploy/ct-setup.sh ]]; then
  die "not an orchestrator bundle: $bundle"
fi
b=${unpacked[0]%/}
version=$(<"$b/VERSION")
ct_script=$(<"$b/deploy/ct-setup.sh")
unchanged "bundle $version$([[ -n $checksum ]] && printf ', checksum verified')"

# --- 2. Proxmox access ---------------------------------------------------------------------------------------
say "2. Proxmox access (least privilege)"
# Everything of the product's names is looked at before anything changes: a role, user or token this installation
# did not create stops the run here, with nothing changed (a dry run stops the same way).
pools=$(api /pools)
roles=$(api /access/roles)
# plan_role ROLE PRIVS: add, keep or modify, as a variable role_action_<ROLE>; refuses a role of that name this
# installation did not create (or that was changed outside it) unless it has exactly PRIVS.
plan_role() {
  local role=$1 privs=$2 want have recorded action
  want=$(tr ' ' '\n' <<<"$privs" | sort | paste -sd,)
  have=$(json "[r.get('privs', '') for r in d if r['roleid'] == '$role']" <<<"$roles" | tr ',' '\n' | sed '/^$/d' | sort | paste -sd,)
  recorded=$(ledger_get "role:$role" || true)
  if ! json "[r['roleid'] for r in d]" <<<"$roles" | contains "$role"; then
    action=add
  elif [[ $have == "$want" ]]; then
    action=keep
  elif [[ -n $recorded && $recorded == "$have" ]]; then
    action=modify
  elif [[ -n $recorded ]]; then
    refuse "role $role was changed outside install.sh (it has ${have:-no privileges}; install.sh set $recorded): it is left alone; set it back or remove it, then run again"
  else
    refuse "a role $role with other privileges (${have:-none}) exists that this installation did not create: it is left alone, never widened; remove or rename it, then run again"
  fi
  printf -v "role_action_$role" '%s' "$action"
}

# apply_role ROLE PRIVS: what plan_role decided.
apply_role() {
  local role=$1 privs=$2 want have recorded action_var="role_action_$1"
  want=$(tr ' ' '\n' <<<"$privs" | sort | paste -sd,)
  have=$(json "[r.get('privs', '') for r in d if r['roleid'] == '$role']" <<<"$roles" | tr ',' '\n' | sed '/^$/d' | sort | paste -sd,)
  recorded=$(ledger_get "role:$role" || true)
  case ${!action_var} in
    keep)
      if [[ -n $recorded ]]; then
        unchanged "role $role"
        [[ $recorded == "$want" ]] || ledger_set "role:$role" "$want"
      else
        unchanged "role $role (not created by this installation: it has exactly the product's privileges, used as it is)"
      fi
      ;;
    add)
      ledger_set "role:$role" "$want"
      changed "role $role ($want)"
      run pveum role add "$role" --privs "$privs"
      ;;
    modify)
      ledger_set "role:$role" "$want"
      changed "role $role privileges ($have -> $want)"
      run pveum role modify "$role" --privs "$privs"
      ;;
  esac
}

privs=$(role_privileges "$pve_major")
plan_role "$ROLE_ID" "$privs"
plan_role "$TEMPLATE_ROLE_ID" "$TEMPLATE_ROLE_PRIVS"

users=$(api /access/users)
user_exists=0
if json "[u['userid'] for u in d]" <<<"$users" | contains "$USER_ID"; then
  owns "user:$USER_ID" "$(json "next((u.get('comment') or '' for u in d if u['userid'] == '$USER_ID'), '')" <<<"$users")" \
    || refuse "user $USER_ID exists and this installation did not create it: it is left alone (no token, no ACL); remove it if it is a left-over, then run again"
  user_exists=1
fi
token_exists=0
if ((user_exists)); then
  tokens=$(api "/access/users/$USER_ID/token")
  if json "[t['tokenid'] for t in d]" <<<"$tokens" | contains "$TOKEN_NAME"; then
    owns "token:$TOKEN_ID" "$(json "next((t.get('comment') or '' for t in d if t['tokenid'] == '$TOKEN_NAME'), '')" <<<"$tokens")" \
      || refuse "token $TOKEN_ID exists and this installation did not create it: it is left alone; remove it, then run again"
    token_exists=1
  fi
fi

ledger_get install-id >/dev/null || ledger_set install-id "$install_id"
for pool in ctrlable ctrlable-templates; do
  if json "[p['poolid'] for p in d]" <<<"$pools" | contains "$pool"; then
    if owns "pool:$pool" "$(json "next((p.get('comment') or '' for p in d if p['poolid'] == '$pool'), '')" <<<"$pools")"; then
      unchanged "pool $pool"
    else
      # Someone else's pool of that name is used as it is (never changed or removed); its guests are named, because
      # the product's token gets rights on the pool.
      members=$(api "/pools/$pool" | json "[str(m['vmid']) for m in d.get('members', []) if m.get('vmid') is not None]" | paste -sd' ')
      note=""
      if [[ -n $members ]]; then note="; it holds guests $members, which the product's token can manage too (the orchestrator acts only on guests it deployed)"; fi
      unchanged "pool $pool (not created by this installation: used as it is, never changed or removed$note)"
    fi
  else
    ledger_set "pool:$pool" created
    changed "pool $pool"
    run pveum pool add "$pool" --comment "Ctrlable $([[ $pool == ctrlable ]] && echo guests || echo templates) ($marker)"
  fi
done

apply_role "$ROLE_ID" "$privs"
apply_role "$TEMPLATE_ROLE_ID" "$TEMPLATE_ROLE_PRIVS"

if ((user_exists)); then
  unchanged "user $USER_ID"
else
  ledger_set "user:$USER_ID" created
  changed "user $USER_ID"
  run pveum user add "$USER_ID" --comment "Ctrlable Provisioner, installed by install.sh ($marker)"
fi

# --- 3. the orchestrator's container -------------------------------------------------------------------------
say "3. Orchestrator container CT $vmid"
net="name=eth0,bridge=$bridge,ip=$ip"
if [[ -n $gateway ]]; then net+=",gw=$gateway"; fi
if [[ -n $vlan ]]; then net+=",tag=$vlan"; fi
if ((new_ct)); then
  template=$(pveam list "$template_storage" | awk '{print $1}' | grep -E '/debian-12-standard_[^/]*_amd64\.tar\.(zst|gz|xz)$' | sort -V | tail -n1 || true)
  if [[ -z $template ]]; then
    run pveam update >/dev/null
    name=$(pveam available --section system | awk '{print $2}' | grep -E '^debian-12-standard_.*_amd64\.tar\.(zst|gz|xz)$' | sort -V | tail -n1 || true)
    [[ -n $name ]] || die "no Debian 12 container template is available (pveam available --section system)"
    changed "template $name on $template_storage"
    run pveam download "$template_storage" "$name" >/dev/null
    template="$template_storage:vztmpl/$name"
  else
    unchanged "template $template"
  fi
  changed "container CT $vmid ($hostname: unprivileged, $cores core, $memory MiB, $disk GiB on $storage, $net, onboot)"
  # Recorded first, marked in its description: a later run uses only this VMID, and only while it carries the mark.
  ledger_set ct "$vmid"
  if ! run pct create "$vmid" "$template" --hostname "$hostname" --unprivileged 1 --features nesting=1 \
    --cores "$cores" --memory "$memory" --swap 512 --rootfs "$storage:$disk" --net0 "$net" \
    --onboot 1 --ostype debian --timezone host --description "Ctrlable Provisioner (orchestrator), installed by install.sh ($marker)" >/dev/null; then
    ledger_del ct
    die "pct create $vmid failed (see above)"
  fi
else
  unchanged "container CT $vmid"
  # Backup schedules run in the orchestrator's local time, the site's: its container follows the host's time zone
  # (pve-container links /etc/localtime at each start). Containers installed before did not; an admin's own zone stays.
  ct_timezone=$(api "/nodes/$node/lxc/$vmid/config" | json "d.get('timezone', '')")
  if [[ -z $ct_timezone ]]; then
    changed "CT $vmid follows the host's time zone (from its next start)"
    run pct set "$vmid" --timezone host
  else
    unchanged "CT $vmid time zone $ct_timezone"
  fi
fi

ct_running() { [[ $(pct status "$vmid" 2>/dev/null || true) == *"status: running"* ]]; }
started=0
if ((new_ct)) || ! ct_running; then
  changed "start CT $vmid"
  run pct start "$vmid"
  started=1
else
  unchanged "CT $vmid running"
fi

# The container's address: the static one, or what DHCP gave it once it is up.
if [[ $ip != dhcp ]]; then
  ct_address=${ip%/*}
elif ((dry_run && started)); then
  ct_address="<CT $vmid address>"
else
  ct_address=""
  for ((i = 0; i < WAIT_SECONDS * 2; i++)); do
    ct_address=$(api "/nodes/$node/lxc/$vmid/interfaces" 2>/dev/null | json "next((i['inet'].split('/')[0] for i in (d or []) if i.get('name') == 'eth0' and i.get('inet')), None)" || true)
    [[ -n $ct_address ]] && break
    sleep 0.5
  done
  [[ -n $ct_address ]] || die "CT $vmid got no IPv4 address on $bridge within ${WAIT_SECONDS}s (DHCP?): pass --ip"
fi
unchanged "CT $vmid address $ct_address"

# What the container holds already (files pulled out to compare; absent on a new container).
ct_file() {
  local path=$1 into=$2
  ((new_ct && dry_run)) && return 1
  pct pull "$vmid" "$path" "$into" >/dev/null 2>&1
}

# --- 4. the bundle inside --------------------------------------------------------------------------------------
say "4. Orchestrator $version inside CT $vmid"
bundle_changed=0
if ct_file "$CT_APP/VERSION" "$work/ct-version" && [[ $(<"$work/ct-version") == "$version" ]]; then
  unchanged "bundle $version installed"
else
  changed "install bundle $version in $CT_APP with $SERVICE"
  run pct push "$vmid" "$bundle_file" "$CT_BUNDLE" --perms 0600
  ct_setup install
  bundle_changed=1
fi

# --- 5. API token (its secret is kept only encrypted, in the orchestrator's data directory) ---------------------
say "5. API token $TOKEN_ID"
token_id=$TOKEN_ID
token_secret=""
token_new=0
secret_stored=0
if ct_file "$CT_ETC/provisioner.env" "$work/ct-env" \
  && [[ $(sed -n 's/^CTRLABLE_PROXMOX__TOKENID=//p' "$work/ct-env") == "$token_id" ]] \
  && ct_check has-token-secret; then
  secret_stored=1
fi
# token_exists (step 2): the token is there and proven this installation's.
if ((token_exists && secret_stored)); then
  unchanged "token $token_id"
else
  if ((token_exists)); then
    # Proxmox shows a token's secret once; when the orchestrator no longer holds it, the token is replaced.
    changed "token $token_id replaced (the orchestrator holds no secret for it)"
    run pveum user token remove "$USER_ID" "$TOKEN_NAME"
  else
    changed "token $token_id (privilege separated)"
  fi
  ledger_set "token:$token_id" created
  if ((dry_run)); then
    run pveum user token add "$USER_ID" "$TOKEN_NAME" --privsep 1 --comment "Ctrlable Provisioner ($marker)" --output-format json
  else
    token_secret=$(pveum user token add "$USER_ID" "$TOKEN_NAME" --privsep 1 --comment "Ctrlable Provisioner ($marker)" --output-format json | json "d['value']")
  fi
  token_new=1
fi

# ACLs for the user and its token (both proven this installation's): write rights on the product's pool only;
# clone from the templates' pool; the storage and bridge it deploys onto; the storage the guests' backups go to; host
# figures for the dashboard. Only
# added (and recorded), never changed or removed: no ACL of anyone else is touched.
acl=$(api /access/acl)
grants=("/pool/ctrlable $ROLE_ID" "/pool/ctrlable-templates $TEMPLATE_ROLE_ID" "/storage/$storage $ROLE_ID"
  "/sdn/zones/localnetwork $ROLE_ID" "/nodes $ROLE_ID")
if [[ $backup_storage != none && $backup_storage != "$storage" ]]; then grants+=("/storage/$backup_storage $ROLE_ID"); fi
for grant in "${grants[@]}"; do
  read -r path role <<<"$grant"
  for subject in "user $USER_ID" "token $token_id"; do
    read -r kind id <<<"$subject"
    if json "[a['ugid'] for a in d if a['path'] == '$path' and a['type'] == '$kind' and a['roleid'] == '$role']" <<<"$acl" | contains "$id"; then
      unchanged "ACL $path $role for $kind $id"
    else
      changed "ACL $path $role for $kind $id"
      ledger_set "acl:$path $role $kind $id" added
      run pveum acl modify "$path" "--${kind}s" "$id" --roles "$role"
    fi
  done
done

# --- 6. host trigger ---------------------------------------------------------------------------------------------
say "6. Build trigger on this host"
# remove_line FILE LINE: drops every line exactly LINE, keeping all others as they are; the file (or the file a
# link points to) is replaced beside itself, as pve-cluster writes it, keeping its mode.
remove_line() {
  local target tmp
  target=$(readlink -f -- "$1")
  if ((dry_run)); then
    printf '    + (the line %s removed from %s)\n' "$(quote "$2")" "$target" >&3
    return 0
  fi
  tmp=$(mktemp "$target.XXXXXX")
  L=$2 awk '$0 != ENVIRON["L"]' "$target" >"$tmp"
  chmod --reference="$target" "$tmp"
  mv -f "$tmp" "$target"
}

# install_file SOURCE TARGET MODE: installs when missing, or when it differs and is still exactly what this
# installation wrote (its sha256 in the record). Anything else at TARGET (changed since, put there by someone
# else, a link) is reported and left alone. A file identical to SOURCE is ours to keep up to date from now on.
install_file() {
  local source=$1 target=$2 mode=$3 want have
  want=$(sha256sum <"$source" | cut -d' ' -f1)
  if [[ -L $target || (-e $target && ! -f $target) ]]; then
    skipped "$target: not a regular file (a link?); left alone — move it away and run again"
  elif [[ ! -e $target ]]; then
    changed "$target"
    run install -D -m "$mode" "$source" "$target"
    ledger_set "file:$target" "$want"
  elif have=$(sha256sum <"$target" | cut -d' ' -f1) && [[ $have == "$want" ]]; then
    unchanged "$target"
    [[ $(ledger_get "file:$target" || true) == "$want" ]] || ledger_set "file:$target" "$want"
  elif [[ $(ledger_get "file:$target" || true) == "$have" ]]; then
    changed "$target"
    run install -m "$mode" "$source" "$target"
    ledger_set "file:$target" "$want"
  else
    skipped "$target: differs from what this installation wrote (changed since, or someone else's); left alone — move it away and run again"
  fi
}
install_file "$b/host/ctrlable-build" "$SBIN_DIR/ctrlable-build" 0755
install_file "$b/host/firstboot/ctrlable-firstboot.sh" "$FIRSTBOOT_DIR/ctrlable-firstboot" 0755
install_file "$b/host/firstboot/ctrlable-firstboot.service" "$FIRSTBOOT_DIR/ctrlable-firstboot.service" 0644

# The orchestrator's TLS certificate: made here once (the host has openssl), then pinned by the trigger and
# the templates. Kept across runs: the fingerprint must not change under them.
if ct_file "$CT_ETC/tls/server.crt" "$work/server.crt"; then
  unchanged "TLS certificate of the orchestrator"
  tls_new=0
else
  changed "TLS certificate of the orchestrator (ECDSA P-256, self-signed, 10 years)"
  san="DNS:$hostname,DNS:localhost,IP:127.0.0.1"
  if [[ $ct_address =~ ^[0-9.]+$ ]]; then san+=",IP:$ct_address"; fi
  run openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/CN=$hostname/O=Ctrlable Provisioner" -addext "subjectAltName=$san" \
    -addext "extendedKeyUsage=serverAuth" -keyout "$work/server.key" -out "$work/server.crt" 2>/dev/null
  tls_new=1
fi
if [[ -f $work/server.crt ]]; then
  tls_fingerprint=$(openssl x509 -noout -fingerprint -sha256 -in "$work/server.crt" | sed 's/^.*=//')
else
  tls_fingerprint="<fingerprint of the new certificate>"
fi
orchestrator_url="https://$ct_address:$port"

conf=$work/ctrlable-build.conf
cat >"$conf" <<EOF
# Written by install.sh: the orchestrator this host's build trigger talks to (see ctrlable-build.conf.example).
ORCHESTRATOR_URL=$orchestrator_url
ORCHESTRATOR_FINGERPRINT=$tls_fingerprint
BRIDGE_DEVICE=$bridge
TEMPLATE_STORAGE=$template_storage
NODE=$node
# What a build plan may ask for: this installer's storage and bridge, the template pool it creates, and the
# builders allowed to run privileged: none (every container of the shipped releases is unprivileged).
ALLOWED_STORAGES=$storage
ALLOWED_BRIDGES=$bridge
ALLOWED_POOLS=ctrlable-templates
ALLOW_PRIVILEGED=no
EOF
install_file "$conf" "$CONF_DIR/ctrlable-build.conf" 0600

# The build key: made inside the container (its private half never leaves it); its public half may run only
# the trigger on this host.
if ct_file "$CT_DATA/ssh/build_ed25519.pub" "$work/build.pub"; then
  unchanged "build key of CT $vmid"
  build_key=$(<"$work/build.pub")
else
  changed "build key (ed25519) made inside CT $vmid"
  if ((dry_run)); then
    ct_setup keygen
    build_key="ssh-ed25519 <build-key-of-CT-$vmid> ctrlable-build"
  else
    build_key=$(ct_setup keygen | tail -n1)
  fi
fi
[[ $build_key =~ ^ssh-ed25519\ [^[:space:]]+\ ctrlable-build$ ]] || die "the container returned no build key"
key_line="command=\"/usr/local/sbin/ctrlable-build\",restrict $build_key"
key_body=$(awk '{print $2}' <<<"$build_key")
# Only this exact line is ever added, and only the exact line this installation added before (a replaced build
# key) is ever removed; every other line stays byte for byte. On Proxmox VE the file is a link into /etc/pve:
# written through the link, never replacing it.
if [[ -e $AUTHORIZED_KEYS && ! -f $AUTHORIZED_KEYS ]]; then
  die "$AUTHORIZED_KEYS is not a file: add this line to root's authorized keys yourself and run again: $key_line"
fi
previous_key_line=$(ledger_get authorized-key || true)
if [[ -f $AUTHORIZED_KEYS ]] && grep -qxF -- "$key_line" "$AUTHORIZED_KEYS"; then
  unchanged "build key in $AUTHORIZED_KEYS"
elif [[ -f $AUTHORIZED_KEYS ]] && grep -qF -- "$key_body" "$AUTHORIZED_KEYS"; then
  die "the build key is in $AUTHORIZED_KEYS without the forced command: remove that line and run again"
else
  changed "build key (forced command ctrlable-build) in $AUTHORIZED_KEYS"
  run mkdir -p "$(dirname "$AUTHORIZED_KEYS")"
  if ((dry_run)); then
    printf '    + %s >> %s\n' "echo $(quote "$key_line")" "$AUTHORIZED_KEYS"
  else
    # A last line without its newline would otherwise run into ours.
    if [[ -s $AUTHORIZED_KEYS && $(tail -c1 "$AUTHORIZED_KEYS" | wc -l) -eq 0 ]]; then
      printf '\n' >>"$AUTHORIZED_KEYS"
    fi
    printf '%s\n' "$key_line" >>"$AUTHORIZED_KEYS"
  fi
fi
[[ $previous_key_line == "$key_line" ]] || ledger_set authorized-key "$key_line"
if [[ -n $previous_key_line && $previous_key_line != "$key_line" ]] && grep -sqxF -- "$previous_key_line" "$AUTHORIZED_KEYS"; then
  changed "the previous build key of this installation removed from $AUTHORIZED_KEYS"
  remove_line "$AUTHORIZED_KEYS" "$previous_key_line"
fi

[[ -f $HOST_KEY_PUB ]] || die "this host has no SSH host key $HOST_KEY_PUB"
host_key_fingerprint=$(ssh-keygen -lf "$HOST_KEY_PUB" | awk '{print $2}')

# --- 7. the orchestrator's configuration ---------------------------------------------------------------------------
say "7. Orchestrator configuration"
node_cert=$PVE_ETC/nodes/$node/pveproxy-ssl.pem
if [[ ! -f $node_cert ]]; then node_cert=$PVE_ETC/nodes/$node/pve-ssl.pem; fi
[[ -f $node_cert ]] || die "no certificate of node $node in $PVE_ETC/nodes/$node"
node_fingerprint=$(openssl x509 -noout -fingerprint -sha256 -in "$node_cert" | sed 's/^.*=//')

bridge_address=$(json "next((b.get('address') for b in d if b['iface'] == '$bridge'), None)" <<<"$bridges")
if [[ -z $proxmox_url ]]; then
  [[ -n $bridge_address ]] || die "bridge $bridge has no IPv4 address: pass --proxmox-url"
  proxmox_url="https://$bridge_address:8006"
fi
if [[ -z $host_address ]]; then
  [[ -n $bridge_address ]] || die "bridge $bridge has no IPv4 address: pass --host-address"
  host_address=$bridge_address
fi

env_file=$work/provisioner.env
cat >"$env_file" <<EOF
# Written by install.sh; read by $SERVICE (EnvironmentFile). Re-run install.sh rather than editing.
CTRLABLE_URLS=https://0.0.0.0:$port
CTRLABLE_STORAGE__DATADIRECTORY=$CT_DATA
CTRLABLE_STORAGE__RELEASESDIRECTORY=$CT_APP/app/releases
CTRLABLE_TLS__CERTIFICATEPATH=$CT_ETC/tls/server.crt
CTRLABLE_TLS__CERTIFICATEKEYPATH=$CT_ETC/tls/server.key
CTRLABLE_PROXMOX__URL=${proxmox_url%/}
CTRLABLE_PROXMOX__TOKENID=$token_id
CTRLABLE_PROXMOX__CERTIFICATEFINGERPRINT=$node_fingerprint
CTRLABLE_PROXMOX__NODE=$node
CTRLABLE_PROXMOX__STORAGE=$storage
CTRLABLE_PROXMOX__BRIDGE=$bridge
CTRLABLE_PROXMOX__POOL=ctrlable
CTRLABLE_PROXMOX__TEMPLATEPOOL=ctrlable-templates
CTRLABLE_HOSTTRIGGER__HOST=$host_address
CTRLABLE_HOSTTRIGGER__PORT=22
CTRLABLE_HOSTTRIGGER__USER=root
CTRLABLE_HOSTTRIGGER__KEYPATH=$CT_DATA/ssh/build_ed25519
CTRLABLE_HOSTTRIGGER__HOSTKEYFINGERPRINT=$host_key_fingerprint
CTRLABLE_HOSTTRIGGER__NODE=$node
EOF
config_changed=0
if [[ -f $work/ct-env ]] && cmp -s "$env_file" "$work/ct-env"; then
  unchanged "$CT_ETC/provisioner.env"
else
  changed "$CT_ETC/provisioner.env (Proxmox, token, host trigger, TLS)"
  run pct push "$vmid" "$env_file" "$CT_ETC/provisioner.env" --perms 0600
  config_changed=1
fi
if ((tls_new)); then
  run pct push "$vmid" "$work/server.crt" "$CT_ETC/tls/server.crt" --perms 0644
  run pct push "$vmid" "$work/server.key" "$CT_ETC/tls/server.key" --perms 0600
fi
if ((token_new)); then
  changed "token secret stored encrypted by the orchestrator"
  if ((dry_run)); then
    # shellcheck disable=SC2016 # printed literally: the command as a user would type it
    printf '    + pct exec %s -- bash -c "$(cat deploy/ct-setup.sh)" ct-setup set-token-secret  (the secret on standard input)\n' "$vmid" >&3
  else
    printf '%s\n' "$token_secret" | ct_setup set-token-secret >/dev/null
  fi
  token_secret=""
fi
if ((bundle_changed || config_changed || tls_new || token_new)); then
  changed "restart $SERVICE"
  ct_setup apply
else
  unchanged "$SERVICE"
fi

# --- summary --------------------------------------------------------------------------------------------------------
say ""
if ((changes == 0 && left_alone == 0)); then
  say "Nothing to change: the orchestrator is installed and configured as asked."
elif ((changes == 0)); then
  say "Nothing changed."
elif ((dry_run)); then
  say "Dry run: $changes change(s) would be made; run without --dry-run to make them."
else
  say "Done: $changes change(s) made."
fi
say "Orchestrator:    $orchestrator_url"
say "TLS fingerprint: $tls_fingerprint (SHA-256; check it when the browser asks)"
# The first admin needs the one-time set-up code (the set-up page asks for it), unless an admin exists already.
setup_code="" code_status=0
if ((dry_run)); then
  code_status=1
else
  setup_code=$(ct_setup setup-code 2>/dev/null) || code_status=$?
fi
case $code_status in
  0) say "Set-up code:     $setup_code (the set-up page asks for it; also in $CT_DATA/setup-code in CT $vmid)" ;;
  3) say "First admin:     exists already: sign in at the URL." ;;
  *) say "Set-up code:     pct exec $vmid -- $CT_APP/deploy/ct-setup.sh setup-code" ;;
esac
if ((code_status != 3)); then
  say "First admin:     pct exec $vmid -- $CT_APP/deploy/ct-setup.sh create-admin admin"
  say "                 (asks for the password), or open the URL and follow the set-up page."
fi

# What this installation did not create was left alone: the run is not complete, and says so.
if ((left_alone > 0)); then
  die "$left_alone item(s) left alone because this installation did not write them (see 'skipped' above)"
fi
