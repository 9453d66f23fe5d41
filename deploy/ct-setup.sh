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
# Every path is under $CTRLABLE_ROOT, empty in a real container (tests run it in a directory).
set -euo pipefail
umask 077

root=${CTRLABLE_ROOT:-}
readonly SERVICE=ctrlable-provisioner.service SERVICE_USER=ctrlable
app=$root/opt/ctrlable-provisioner
data=$root/var/lib/ctrlable-provisioner
etc=$root/etc/ctrlable-provisioner
bundle=$root/root/ctrlable-provisioner.tar.gz

die() {
  printf 'ct-setup: %s\n' "$*" >&2
  exit 1
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
  if ! grep -q "^$SERVICE_USER:" "$root/etc/passwd" 2>/dev/null; then
    useradd --system --user-group --no-create-home --home-dir /var/lib/ctrlable-provisioner --shell /usr/sbin/nologin "$SERVICE_USER"
  fi
  # Unpacked beside the old version, then swapped: a failed unpack leaves the running version alone.
  local next=$app.next
  rm -rf "$next"
  mkdir -p "$next"
  tar -xzf "$bundle" -C "$next" --strip-components=1 --no-same-owner
  chmod -R go-w,a+rX "$next"
  rm -rf "$app.previous"
  if [[ -d $app ]]; then mv "$app" "$app.previous"; fi
  mv "$next" "$app"
  rm -rf "$app.previous" "$bundle"

  install -d -m 0755 "$etc"
  install -d -m 0750 "$etc/tls"
  install -d -m 0700 "$data"
  chown "$(owner)" "$data"
  install -D -m 0644 "$app/deploy/ctrlable-provisioner.service" "$root/etc/systemd/system/$SERVICE"
  systemctl daemon-reload
  systemctl enable --quiet "$SERVICE"
  echo "ct-setup: installed $(<"$app/VERSION") in /opt/ctrlable-provisioner"
}

keygen() {
  local key=$data/ssh/build_ed25519
  install -d -m 0700 "$data" "$data/ssh"
  if [[ ! -f $key ]]; then
    ssh-keygen -q -t ed25519 -N '' -C ctrlable-build -f "$key"
  fi
  chown -R "$(owner)" "$data/ssh"
  chmod 0600 "$key"
  cat "$key.pub"
}

# Root owns the configuration and TLS files, the service's group may only read them.
own_config() {
  local group
  group=$(owner)
  group=${group#*:}
  chown "0:$group" "$etc/provisioner.env"
  chmod 0640 "$etc/provisioner.env"
  if [[ -d $etc/tls ]]; then
    chown "0:$group" "$etc/tls" "$etc/tls/server.crt" "$etc/tls/server.key"
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
  install -d -m 0700 "$data"
  chown "$ids" "$data"
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

case ${1-} in
  install) install_bundle ;;
  keygen) keygen ;;
  apply) apply ;;
  create-admin) create_admin "${2-}" ;;
  set-token-secret) as_service --set-proxmox-token-secret ;;
  has-token-secret) as_service --has-proxmox-token-secret ;;
  setup-code) setup_code ;;
  *) die "usage: ct-setup.sh install|keygen|apply|create-admin NAME|set-token-secret|has-token-secret|setup-code" ;;
esac
