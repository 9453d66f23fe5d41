#!/usr/bin/env bash
# Installs what the build and the tests need when it is missing: a fresh machine has only the
# .NET SDK, Node.js and npm. Debian packages come from apt; JavaScript packages from the lockfile.
set -euo pipefail

repo_root="${REPO_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
read -r -a apt_packages <<<"${CTRLABLE_APT_PACKAGES:-}"

missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "ensure-deps: missing Debian packages (${missing[*]}); install them as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "ensure-deps: installing ${missing[*]}"
  apt-get update -qq >/dev/null
  # Without recommends: 37 packages instead of 144 for the usual list (no Ceph/Gluster block drivers for qemu-utils,
  # no systemd-logind for sshd, no printer or sound stack for chromium): minutes less on a fresh machine.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# node_modules is reinstalled only when the lockfile changed since the last install.
frontend="$repo_root/frontend"
stamp="$frontend/node_modules/.ctrlable-lock-stamp"
if [[ -f "$frontend/package-lock.json" ]]; then
  want=$(sha256sum "$frontend/package-lock.json" | cut -d' ' -f1)
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    echo "ensure-deps: npm ci in frontend/"
    (cd "$frontend" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
  fi
fi
