#!/usr/bin/env bash
# Checks a published orchestrator bundle the way a container runs it:
#   1. its .sha256 matches, it holds the app (trimmed; workstation segments GC, no tiered compilation or dynamic PGO,
#      reflection-based JSON on, in its runtimeconfig.json), install.sh, host/ and deploy/ files, and no emulator
#      (demo mode's Ctrlable.Provisioner.Demo, Ctrlable.PveSim, Ctrlable.HaSim stay in the repository);
#   2. deploy/ct-setup.sh create-admin makes the first admin (the app's --create-admin, as the service user); the app,
#      started from its own directory with no .NET SDK or runtime on PATH, refuses to serve without a Proxmox host
#      (one line, exit 1), refuses an invalid setting given in the environment (bound and validated at start, as a
#      trimmed publish's generated binder does it; one line, exit 1) and, with one configured, serves /healthz;
#   3. systemd-analyze verify accepts deploy/ctrlable-provisioner.service (in a sandbox root where the unit's
#      ExecStart exists), and systemd-analyze security --offline rates its exposure (printed; at most 2.0).
# Usage: scripts/bundle-check.sh dist/ctrlable-provisioner-<version>-linux-x64.tar.gz
set -euo pipefail

bundle=${1:?usage: bundle-check.sh BUNDLE.tar.gz}
max_exposure=${CTRLABLE_MAX_EXPOSURE:-2.0}
fail() {
  echo "bundle-check: $*" >&2
  exit 1
}

[[ -f $bundle && -f $bundle.sha256 ]] || fail "$bundle or its .sha256 is missing"
(cd "$(dirname "$bundle")" && sha256sum --quiet -c "$(basename "$bundle").sha256") || fail "checksum mismatch"

work=$(mktemp -d)
pid=""
cleanup() {
  if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
tar -xzf "$bundle" -C "$work"
dir=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'ctrlable-provisioner-*')
for f in VERSION install.sh app/Ctrlable.Provisioner app/libcoreclr.so app/wwwroot/index.html app/releases \
  host/ctrlable-build host/firstboot/ctrlable-firstboot.sh host/firstboot/ctrlable-firstboot.service \
  deploy/ctrlable-provisioner.service deploy/ct-setup.sh; do
  [[ -e $dir/$f ]] || fail "the bundle lacks $f"
done
grep -q '"includedFrameworks"' "$dir/app/Ctrlable.Provisioner.runtimeconfig.json" || fail "the app is not self-contained"
# The runtime settings the memory figure was measured with (backend/bench/README.md "Memory"): the workstation GC (not
# the web SDK's server GC) with segments (libclrgc.so), no tiered compilation and no dynamic PGO, reflection-based JSON
# kept on, and trimmed (the SDK writes the DI trimmability check into a trimmed app's runtimeconfig only).
for setting in '"System.GC.Server": false' '"System.GC.Name": "libclrgc.so"' '"System.Runtime.TieredCompilation": false' \
  '"System.Runtime.TieredPGO": false' \
  '"System.Text.Json.JsonSerializer.IsReflectionEnabledByDefault": true' \
  '"Microsoft.Extensions.DependencyInjection.VerifyOpenGenericServiceTrimmability": true'; do
  grep -qF "$setting" "$dir/app/Ctrlable.Provisioner.runtimeconfig.json" || fail "the app's runtimeconfig.json lacks $setting (backend/bench/README.md \"Memory\")"
done
# No emulator reaches a dealer: neither its files nor a dependency on it. (BCrypt.Net-Next stays: the product checks
# an uploaded Home Assistant base backup's owner password against its bcrypt hash.)
emulators=$(cd "$dir" && find . \( -name 'Ctrlable.PveSim*' -o -name 'Ctrlable.HaSim*' -o -name 'Ctrlable.Provisioner.Demo*' \) -printf '%P ')
[[ -z $emulators ]] || fail "the bundle contains an emulator: $emulators"
if grep -qE 'Ctrlable\.(PveSim|HaSim|Provisioner\.Demo)' "$dir/app/Ctrlable.Provisioner.deps.json" 2>/dev/null; then
  fail "app/Ctrlable.Provisioner.deps.json names an emulator"
fi
echo "bundle-check: contents ok, no emulator ($(<"$dir/VERSION"))"

# No SDK and no runtime where the app could find one: an empty PATH and no DOTNET_ROOT.
nopath=$work/empty-path
mkdir -p "$nopath"
if PATH=$nopath command -v dotnet >/dev/null; then fail "dotnet is still on the bare PATH"; fi
bare=(env -i PATH="$nopath" HOME="$work" DOTNET_ROOT="$work/no-dotnet")

# Start from its own directory, as the unit does: a clean environment, no dotnet anywhere on PATH.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/data"
# The headless first-admin command the installer prints (ct-setup.sh create-admin, as the service user with the
# service's settings), in a stand-in container root whose service user is this user; same data directory.
ct=$work/ct
mkdir -p "$ct/etc/ctrlable-provisioner" "$ct/opt"
ln -s "$dir" "$ct/opt/ctrlable-provisioner"
printf 'ctrlable:x:%s:%s::/nonexistent:/usr/sbin/nologin\n' "$(id -u)" "$(id -g)" >"$ct/etc/passwd"
printf 'CTRLABLE_STORAGE__DATADIRECTORY=%s\n' "$work/data" >"$ct/etc/ctrlable-provisioner/provisioner.env"
admin=$(env -i PATH=/usr/bin:/bin HOME="$work" CTRLABLE_ROOT="$ct" CTRLABLE_ADMIN_PASSWORD="bundle-check-$RANDOM-$RANDOM-password" \
  /bin/bash "$dir/deploy/ct-setup.sh" create-admin admin 2>&1) || fail "create-admin failed: $admin"
[[ $admin == *"admin account 'admin' created"* ]] || fail "--create-admin did not create the admin: $admin"
echo "bundle-check: $(tail -n1 <<<"$admin")"
# The product has no simulated host: with no Proxmox host configured it says what to configure and exits.
status=0
unconfigured=$(cd "$dir/app" && timeout 120 "${bare[@]}" CTRLABLE_URLS="http://127.0.0.1:$port" CTRLABLE_STORAGE__DATADIRECTORY="$work/data" \
  ./Ctrlable.Provisioner 2>&1) || status=$?
[[ $status == 1 && $unconfigured == *"configuration error: no Proxmox host"* ]] ||
  fail "without a Proxmox host the app should exit 1 with one line (exit $status): $unconfigured"
echo "bundle-check: without a Proxmox host: ${unconfigured##*$'\n'}"
# A configured host that is not there: serving does not wait for it (the dashboard reports it unreachable).
fingerprint=$(printf '00:%.0s' $(seq 1 31))00
configured=(CTRLABLE_URLS="http://127.0.0.1:$port" CTRLABLE_STORAGE__DATADIRECTORY="$work/data"
  CTRLABLE_PROXMOX__URL="https://127.0.0.1:9" CTRLABLE_PROXMOX__TOKENID='ctrlable@pve!provisioner'
  CTRLABLE_PROXMOX__TOKENSECRET="bundle-check-$RANDOM" CTRLABLE_PROXMOX__CERTIFICATEFINGERPRINT="$fingerprint")
# Settings from the environment reach the options and are checked at start: an invalid one is refused before serving.
status=0
invalid=$(cd "$dir/app" && timeout 120 "${bare[@]}" "${configured[@]}" CTRLABLE_GUESTBACKUPS__CHECKINTERVALSECONDS=0 \
  ./Ctrlable.Provisioner 2>&1) || status=$?
[[ $status == 1 && $invalid == *"configuration error: "*"GuestBackups:CheckIntervalSeconds"* ]] ||
  fail "an invalid GuestBackups:CheckIntervalSeconds=0 should be refused at start with exit 1 (exit $status): $invalid"
echo "bundle-check: an invalid setting is refused at start: ${invalid##*$'\n'}"
(cd "$dir/app" && exec "${bare[@]}" "${configured[@]}" ./Ctrlable.Provisioner >"$work/app.log" 2>&1) &
pid=$!
healthy=""
for _ in $(seq 1 120); do
  if healthy=$(curl -fsS "http://127.0.0.1:$port/healthz" 2>/dev/null); then break; fi
  kill -0 "$pid" 2>/dev/null || { cat "$work/app.log" >&2; fail "the app exited before serving /healthz"; }
  sleep 0.5
done
[[ $healthy == *'"status":"ok"'* ]] || { cat "$work/app.log" >&2; fail "no healthy /healthz on 127.0.0.1:$port (got '$healthy')"; }
echo "bundle-check: started from its own directory without an SDK; /healthz: $healthy"
kill "$pid"
wait "$pid" 2>/dev/null || true
pid=""

# The unit, in a sandbox root that has systemd's own units and the bundle where the unit expects it.
command -v systemd-analyze >/dev/null || fail "systemd-analyze is not installed (apt-get install systemd)"
root=$work/root
mkdir -p "$root/etc/systemd/system" "$root/usr/lib/systemd" "$root/opt"
cp -r /usr/lib/systemd/system "$root/usr/lib/systemd/"
mv "$dir" "$root/opt/ctrlable-provisioner"
cp "$root/opt/ctrlable-provisioner/deploy/ctrlable-provisioner.service" "$root/etc/systemd/system/"
verify=$(systemd-analyze verify --root="$root" /etc/systemd/system/ctrlable-provisioner.service 2>&1) || fail "systemd-analyze verify failed: $verify"
[[ -z $verify ]] || fail "systemd-analyze verify: $verify"
echo "bundle-check: systemd-analyze verify: ok"
security=$(systemd-analyze security --offline=yes --root="$root" /etc/systemd/system/ctrlable-provisioner.service 2>&1 | tail -n1)
exposure=$(grep -oE '[0-9]+\.[0-9]+' <<<"$security" | tail -n1)
[[ -n $exposure ]] || fail "systemd-analyze security gave no exposure level: $security"
echo "bundle-check: systemd-analyze security: ${security#→ }"
awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e <= m) }' || fail "exposure $exposure is above $max_exposure"
