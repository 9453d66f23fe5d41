#!/usr/bin/env bash
# ct-setup.sh — the orchestrator container's side of install.sh, run inside the container (pct exec), as root:
#   install       unpack /root/ctrlable-provisioner.tar.gz into /opt/ctrlable-provisioner, create the service
#                 user, install and enable ctrlable-provisioner.service
#   keygen        make the build key (once) and print its public half
#   apply         give the configuration and TLS files to the service user (read-only), restart the service
#   create-admin NAME   create the first admin (password from CTRLABLE_ADMIN_PASSWORD or standard input)
#   set-token-secret    store the Proxmox token secret (first line of standard input) encrypted in the data directory
#   has-token-secret    exit 0 when a Proxmox token secret is stored, 1 when not
#   setup-code          print the first admin's one-time set-up code (made when there is none yet; it is also in
#                       /var/lib/ctrlable-provisioner/setup-code); exit 3 with one line when an admin exists already
#   import-base-backup RELEASE FILE   store RELEASE's Home Assistant base backup (FILE readable by the service user, e.g.
#                       pct push --user ctrlable; the owner's password from CTRLABLE_BASE_ADMIN_PASSWORD or standard input)
#   backup FILE         write the orchestrator's encrypted backup to FILE (a new file in a directory the service user
#                       may write, e.g. /tmp; the passphrase from CTRLABLE_BACKUP_PASSPHRASE or standard input)
#   restore FILE [--force]   restore a backup into the data directory (FILE readable by the service user; stop the
#                       service first; --force when the data directory is not empty: what it replaces is kept)
# Every path is under $CTRLABLE_ROOT, empty in a real container (tests run it in a directory).
#
# It changes only what it created: the service user (recorded in /etc/ctrlable-provisioner/ct-setup.state and
# carrying its comment), the unit and the application directory it wrote (their record); anything else of the
# same name stops it with one line. In the data directory, which the service user owns, it never follows a link.
set -euo pipefail
umask 077

root=${CTRLABLE_ROOT:-}
readonly SERVICE=ctrlable-provisioner.service SERVICE_USER=ctrlable
app=$root/opt/ctrlable-provisioner
data=$root/var/lib/ctrlable-provisioner
etc=$root/etc/ctrlable-provisioner
bundle=$root/root/ctrlable-provisioner.tar.gz
unit=$root/etc/systemd/system/$SERVICE
state=$etc/ct-setup.state
readonly USER_COMMENT="Ctrlable Provisioner service (ct-setup)"

die() {
  printf 'ct-setup: %s\n' "$*" >&2
  exit 1
}

# --- what this script created: "KEY<TAB>VALUE" lines in $state (root, 0600) --------------------------------------
recorded() {
  [[ -f $state && ! -L $state ]] || return 1
  K=$1 awk -F'\t' '$1 == ENVIRON["K"] { v = substr($0, length($1) + 2); found = 1 } END { if (found) print v; exit !found }' "$state"
}
record() {
  local tmp
  [[ ! -L $state ]] || die "${state#"$root"} is a link: not written"
  tmp=$(mktemp "$state.XXXXXX")
  if [[ -f $state ]]; then K=$1 awk -F'\t' '$1 != ENVIRON["K"]' "$state" >"$tmp"; fi
  printf '%s\t%s\n' "$1" "$2" >>"$tmp"
  chmod 0600 "$tmp"
  mv -f "$tmp" "$state"
}
hash_of() { sha256sum <"$1" | cut -d' ' -f1; }

# no_links PATH...: stops when any of them is a symbolic link (the data directory belongs to the service user,
# who could point a name at a file of root's for root to chown or chmod).
no_links() {
  local path
  for path in "$@"; do
    [[ ! -L $path ]] || die "${path#"$root"} is a symbolic link: refusing to follow it"
  done
}

# The service user's uid:gid from the container's own passwd (names may not resolve where tests run).
owner() {
  local entry
  entry=$(grep "^$SERVICE_USER:" "$root/etc/passwd" 2>/dev/null) || die "no user $SERVICE_USER in the container"
  IFS=: read -r _ _ uid gid _ <<<"$entry"
  printf '%s:%s' "$uid" "$gid"
}

install_bundle() {
  [[ -f $bundle ]] || die "no bundle at ${bundle#"$root"}"
  no_links "$etc" "$data" "$state"
  # Everything of the product's names is looked at before anything changes.
  local entry
  entry=$(grep "^$SERVICE_USER:" "$root/etc/passwd" 2>/dev/null || true)
  if [[ -n $entry ]] && ! { recorded user >/dev/null && [[ $(cut -d: -f5 <<<"$entry") == "$USER_COMMENT" ]]; }; then
    die "a user $SERVICE_USER exists in the container that ct-setup did not create: it is left alone; remove it and run install.sh again"
  fi
  if [[ -e $app || -L $app ]] && [[ -L $app || ! -f $app/VERSION || $(recorded app || true) != "${app#"$root"}" ]]; then
    die "${app#"$root"} exists and ct-setup did not create it: it is left alone; move it away and run install.sh again"
  fi
  # Unpacked beside the old version (into a directory made now, so nothing else is removed), then swapped: a
  # failed unpack leaves the running version alone.
  local next previous
  install -d -m 0755 "$(dirname "$app")"
  next=$(mktemp -d "$app.next.XXXXXX")
  if ! tar -xzf "$bundle" -C "$next" --strip-components=1 --no-same-owner; then
    rm -rf "$next"
    die "cannot unpack ${bundle#"$root"}"
  fi
  # The unit is replaced when it is the one ct-setup wrote before, or already the one it is about to write.
  if [[ -e $unit || -L $unit ]] && [[ -L $unit || ! -f $unit || ($(hash_of "$unit") != "$(recorded unit || true)" && $(hash_of "$unit") != "$(hash_of "$next/deploy/ctrlable-provisioner.service")") ]]; then
    rm -rf "$next"
    die "${unit#"$root"} is not the unit ct-setup wrote: it is left alone; move it away and run install.sh again"
  fi

  install -d -m 0755 "$etc"
  if [[ -z $entry ]]; then
    record user "$SERVICE_USER"
    useradd --system --user-group --no-create-home --home-dir /var/lib/ctrlable-provisioner --shell /usr/sbin/nologin --comment "$USER_COMMENT" "$SERVICE_USER"
  fi
  chmod -R go-w,a+rX "$next"
  record app "${app#"$root"}"
  if [[ -d $app ]]; then
    previous=$(mktemp -d "$app.previous.XXXXXX")
    mv "$app" "$previous/app"
    mv "$next" "$app"
    rm -rf "$previous"
  else
    mv "$next" "$app"
  fi
  rm -f "$bundle"

  install -d -m 0750 "$etc/tls"
  install -d -m 0700 "$data"
  chown -h "$(owner)" "$data"
  install -D -m 0644 "$app/deploy/ctrlable-provisioner.service" "$unit"
  record unit "$(hash_of "$unit")"
  systemctl daemon-reload
  systemctl enable --quiet "$SERVICE"
  echo "ct-setup: installed $(<"$app/VERSION") in /opt/ctrlable-provisioner"
}

keygen() {
  local key=$data/ssh/build_ed25519 ids
  ids=$(owner)
  no_links "$data" "$data/ssh" "$key" "$key.pub"
  install -d -m 0700 "$data" "$data/ssh"
  if [[ ! -f $key ]]; then
    ssh-keygen -q -t ed25519 -N '' -C ctrlable-build -f "$key"
  fi
  no_links "$key" "$key.pub"
  chmod 0600 "$key"
  # -h: the names themselves, never what a link would point at.
  chown -h "$ids" "$data/ssh" "$key" "$key.pub"
  cat "$key.pub"
}

# Root owns the configuration and TLS files, the service's group may only read them.
own_config() {
  local group
  group=$(owner)
  group=${group#*:}
  no_links "$etc" "$etc/provisioner.env" "$etc/tls" "$etc/tls/server.crt" "$etc/tls/server.key"
  chown -h "0:$group" "$etc/provisioner.env"
  chmod 0640 "$etc/provisioner.env"
  if [[ -d $etc/tls ]]; then
    chown -h "0:$group" "$etc/tls" "$etc/tls/server.crt" "$etc/tls/server.key"
    chmod 0640 "$etc/tls/server.crt" "$etc/tls/server.key"
    chmod 0750 "$etc/tls"
  fi
}

apply() {
  own_config
  systemctl restart "$SERVICE"
  echo "ct-setup: $SERVICE restarted"
}

# Runs the orchestrator with the service's own settings and user, so what it writes lands where the service reads.
as_service() {
  [[ -f $etc/provisioner.env ]] || die "not configured yet: run install.sh on the host"
  own_config
  local ids
  ids=$(owner)
  # systemd's StateDirectory= does this at the service's start; a command may run before the first start.
  no_links "$data"
  install -d -m 0700 "$data"
  chown -h "$ids" "$data"
  set -a
  # shellcheck source=/dev/null
  source "$etc/provisioner.env"
  set +a
  cd "$app/app"
  exec setpriv --reuid="${ids%:*}" --regid="${ids#*:}" --clear-groups ./Ctrlable.Provisioner "$@"
}

create_admin() {
  local name=${1:?usage: ct-setup.sh create-admin NAME}
  as_service --create-admin "$name"
}

# The orchestrator's own log lines share its standard output: print only the code (exit 3 passes on: an admin exists).
setup_code() {
  local out status=0
  out=$(as_service --setup-code) || status=$?
  ((status == 0)) || exit "$status"
  grep -E '^[A-Z2-7]{5}(-[A-Z2-7]{5}){3}$' <<<"$out" || die "the orchestrator printed no set-up code"
}

# The service runs in the application directory: the file's path is made absolute first.
import_base_backup() {
  [[ -n $1 && -n $2 ]] || die "usage: ct-setup.sh import-base-backup RELEASE FILE"
  [[ -f $2 ]] || die "$2: no such file"
  as_service --import-base-backup "$1" "$(realpath -- "$2")"
}

# The orchestrator runs in the application directory: file names are made absolute first.
backup() {
  [[ -n ${1-} ]] || die "usage: ct-setup.sh backup FILE"
  as_service --backup-to "$(realpath -m -- "$1")"
}

restore() {
  [[ -n ${1-} ]] || die "usage: ct-setup.sh restore FILE [--force]"
  [[ -f $1 ]] || die "$1: no such file"
  [[ -z ${2-} || ${2-} == --force ]] || die "usage: ct-setup.sh restore FILE [--force]"
  as_service --restore-from "$(realpath -- "$1")" ${2:+"$2"}
}

case ${1-} in
  install) install_bundle ;;
  keygen) keygen ;;
  apply) apply ;;
  create-admin) create_admin "${2-}" ;;
  set-token-secret) as_service --set-proxmox-token-secret ;;
  has-token-secret) as_service --has-proxmox-token-secret ;;
  setup-code) setup_code ;;
  import-base-backup) import_base_backup "${2-}" "${3-}" ;;
  backup) backup "${2-}" ;;
  restore) restore "${2-}" "${3-}" ;;
  *) die "usage: ct-setup.sh install|keygen|apply|create-admin NAME|set-token-secret|has-token-secret|setup-code|import-base-backup RELEASE FILE|backup FILE|restore FILE [--force]" ;;
esac
