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
# Every host path and command is overridable by environment (see "settings") so tests run the real script
# in a sandbox root against the Proxmox emulator.
set -euo pipefail
umask 077

readonly MIN_PVE=8.2
readonly USER_ID=ctrlable@pve
readonly TOKEN_NAME=provisioner
readonly ROLE_ID=CtrlableProvisioner
readonly SERVICE=ctrlable-provisioner.service
readonly CT_DATA=/var/lib/ctrlable-provisioner
readonly CT_ETC=/etc/ctrlable-provisioner
readonly CT_APP=/opt/ctrlable-provisioner
readonly CT_BUNDLE=/root/ctrlable-provisioner.tar.gz

# The privileges the product needs (the emulator's Seeding/LeastPrivilege.cs; a test checks they agree).
# PVE 9 replaced VM.Monitor with VM.GuestAgent.Audit (the QEMU agent's network-get-interfaces).
role_privileges() {
  local agent=VM.GuestAgent.Audit
  if (($1 < 9)); then agent=VM.Monitor; fi
  printf '%s' "VM.Audit VM.Allocate VM.Clone VM.Config.CPU VM.Config.Memory VM.Config.Network VM.Config.Options VM.PowerMgmt $agent Datastore.AllocateSpace Datastore.Audit SDN.Use Sys.Audit Pool.Audit"
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

# --- options ---------------------------------------------------------------------------------------------
bundle="" vmid="" hostname=ctrlable-provisioner storage=local-lvm template_storage=local bridge=vmbr0 vlan=""
ip=dhcp gateway="" memory=1024 cores=1 disk=4 node="" proxmox_url="" host_address="" port=8443 dry_run=0

usage() {
  cat <<'EOF'
Usage: install.sh [options]     (as root on the Proxmox VE host)

Installs the Ctrlable Provisioner in its own unprivileged LXC with least-privilege Proxmox access.
Running it again changes only what differs (and says so when nothing does).

  --bundle PATH|URL        the orchestrator bundle, ctrlable-provisioner-<version>-linux-x64.tar.gz; a
                           .sha256 beside it (PATH.sha256 or URL.sha256) is verified. Default: the one
                           tarball beside this script.
  --vmid N                 container id. Default: the existing container named by --hostname, else the
                           next free id.
  --hostname NAME          container host name (default ctrlable-provisioner)
  --storage ID             storage for the container's disk and for the guests it deploys (default local-lvm)
  --template-storage ID    storage holding container templates (vztmpl) (default local)
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
CTRLABLE_SBIN_DIR, CTRLABLE_CONF_DIR, CTRLABLE_FIRSTBOOT_DIR, CTRLABLE_PVE_ETC, CTRLABLE_HOST_KEY_PUB
override single paths; CTRLABLE_EUID the root check.
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
say() { printf '%s\n' "$*"; }
unchanged() { say "  ok       $*"; }
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

if [[ -z $node ]]; then node=$(hostname); fi
node_status=$(api "/nodes/$node/status" 2>/dev/null) || die "node '$node' is not known to Proxmox (pass --node)"

storages=$(api "/nodes/$node/storage")
has_storage() { json "[s['storage'] for s in d if s.get('active', 1) and '$2' in s.get('content', '').split(',')]" <<<"$storages" | contains "$1"; }
has_storage "$storage" rootdir || die "storage '$storage' does not exist on node $node or holds no containers (rootdir); available: $(json "','.join(s['storage'] for s in d if 'rootdir' in s.get('content', ''))" <<<"$storages")"
has_storage "$template_storage" vztmpl || die "storage '$template_storage' does not exist on node $node or holds no container templates (vztmpl)"
bridges=$(api "/nodes/$node/network" --type any_bridge)
json "[b['iface'] for b in d]" <<<"$bridges" | contains "$bridge" || die "bridge '$bridge' does not exist on node $node"
unchanged "node $node, storage $storage, templates on $template_storage, bridge $bridge"

# The existing installation, if any: the container named $hostname (or the given VMID).
guests=$(api /cluster/resources --type vm)
existing=$(json "min([g['vmid'] for g in d if g.get('type') == 'lxc' and g.get('node') == '$node' and g.get('name') == '$hostname'], default=None)" <<<"$guests")
if [[ -z $vmid ]]; then
  vmid=${existing:-}
elif json "[g['vmid'] for g in d]" <<<"$guests" | contains "$vmid" && [[ $vmid != "$existing" ]]; then
  die "VMID $vmid is taken by another guest (not the container '$hostname'): pick another --vmid"
fi
if [[ -z $vmid ]]; then
  new_ct=1
  vmid=$(pvesh get /cluster/nextid)
  # "available" (free plus reclaimable cache) is reported from PVE 8.3 on; 8.2 only has "free".
  free_mib=$(json "d['memory'].get('available', d['memory']['free']) // 1048576" <<<"$node_status")
  ((free_mib >= memory)) || die "not enough free memory on $node: $memory MiB needed, $free_mib MiB available"
  free_gib=$(json "[s['avail'] // 1073741824 for s in d if s['storage'] == '$storage'][0]" <<<"$storages")
  ((free_gib >= disk)) || die "not enough free space on storage $storage: $disk GiB needed, $free_gib GiB free"
  unchanged "resources: $memory MiB memory and $disk GiB on $storage are free"
else
  new_ct=0
  unchanged "existing container CT $vmid ($hostname)"
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
pools=$(api /pools)
for pool in ctrlable ctrlable-templates; do
  if json "[p['poolid'] for p in d]" <<<"$pools" | contains "$pool"; then
    unchanged "pool $pool"
  else
    changed "pool $pool"
    run pveum pool add "$pool" --comment "Ctrlable $([[ $pool == ctrlable ]] && echo guests || echo templates)"
  fi
done

privs=$(role_privileges "$pve_major")
want_privs=$(tr ' ' '\n' <<<"$privs" | sort | paste -sd,)
have_privs=$(api /access/roles | json "[r.get('privs', '') for r in d if r['roleid'] == '$ROLE_ID']" | tr ',' '\n' | sed '/^$/d' | sort | paste -sd,)
if [[ $have_privs == "$want_privs" ]]; then
  unchanged "role $ROLE_ID"
elif [[ -z $have_privs ]] && ! api /access/roles | json "[r['roleid'] for r in d]" | contains "$ROLE_ID"; then
  changed "role $ROLE_ID ($want_privs)"
  run pveum role add "$ROLE_ID" --privs "$privs"
else
  changed "role $ROLE_ID privileges ($have_privs -> $want_privs)"
  run pveum role modify "$ROLE_ID" --privs "$privs"
fi

if api /access/users | json "[u['userid'] for u in d]" | contains "$USER_ID"; then
  unchanged "user $USER_ID"
  user_exists=1
else
  changed "user $USER_ID"
  run pveum user add "$USER_ID" --comment "Ctrlable Provisioner (install.sh)"
  user_exists=0
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
  run pct create "$vmid" "$template" --hostname "$hostname" --unprivileged 1 --features nesting=1 \
    --cores "$cores" --memory "$memory" --swap 512 --rootfs "$storage:$disk" --net0 "$net" \
    --onboot 1 --ostype debian --description "Ctrlable Provisioner (orchestrator), installed by install.sh" >/dev/null
else
  unchanged "container CT $vmid"
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
say "5. API token $USER_ID!$TOKEN_NAME"
token_id="$USER_ID!$TOKEN_NAME"
token_secret=""
token_new=0
secret_stored=0
if ct_file "$CT_ETC/provisioner.env" "$work/ct-env" \
  && [[ $(sed -n 's/^CTRLABLE_PROXMOX__TOKENID=//p' "$work/ct-env") == "$token_id" ]] \
  && ct_check has-token-secret; then
  secret_stored=1
fi
token_exists=0
if ((user_exists)) && api "/access/users/$USER_ID/token" | json "[t['tokenid'] for t in d]" | contains "$TOKEN_NAME"; then
  token_exists=1
fi
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
  if ((dry_run)); then
    run pveum user token add "$USER_ID" "$TOKEN_NAME" --privsep 1 --comment "Ctrlable Provisioner" --output-format json
  else
    token_secret=$(pveum user token add "$USER_ID" "$TOKEN_NAME" --privsep 1 --comment "Ctrlable Provisioner" --output-format json | json "d['value']")
  fi
  token_new=1
fi

# ACLs for the user and its token: write rights on the product's pool only; clone from the templates' pool;
# the storage and bridge it deploys onto; host figures for the dashboard.
acl=$(api /access/acl)
grants=("/pool/ctrlable $ROLE_ID" "/pool/ctrlable-templates PVETemplateUser" "/storage/$storage $ROLE_ID"
  "/sdn/zones/localnetwork $ROLE_ID" "/nodes $ROLE_ID")
for grant in "${grants[@]}"; do
  read -r path role <<<"$grant"
  for subject in "user $USER_ID" "token $token_id"; do
    read -r kind id <<<"$subject"
    if json "[a['ugid'] for a in d if a['path'] == '$path' and a['type'] == '$kind' and a['roleid'] == '$role']" <<<"$acl" | contains "$id"; then
      unchanged "ACL $path $role for $kind $id"
    else
      changed "ACL $path $role for $kind $id"
      run pveum acl modify "$path" "--${kind}s" "$id" --roles "$role"
    fi
  done
done

# --- 6. host trigger ---------------------------------------------------------------------------------------------
say "6. Build trigger on this host"
# install_file SOURCE TARGET MODE: installs when the content differs.
install_file() {
  local source=$1 target=$2 mode=$3
  if [[ -f $target ]] && cmp -s "$source" "$target"; then
    unchanged "$target"
  else
    changed "$target"
    run install -D -m "$mode" "$source" "$target"
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
if [[ -f $AUTHORIZED_KEYS ]] && grep -qF "$key_body" "$AUTHORIZED_KEYS"; then
  if grep -qxF "$key_line" "$AUTHORIZED_KEYS"; then
    unchanged "build key in $AUTHORIZED_KEYS"
  else
    die "the build key is in $AUTHORIZED_KEYS without the forced command: remove that line and run again"
  fi
else
  changed "build key (forced command ctrlable-build) in $AUTHORIZED_KEYS"
  run mkdir -p "$(dirname "$AUTHORIZED_KEYS")"
  if ((dry_run)); then
    printf '    + %s >> %s\n' "echo $(quote "$key_line")" "$AUTHORIZED_KEYS"
  else
    printf '%s\n' "$key_line" >>"$AUTHORIZED_KEYS"
  fi
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
if ((changes == 0)); then
  say "Nothing to change: the orchestrator is installed and configured as asked."
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
