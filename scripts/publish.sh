#!/usr/bin/env bash
# Builds the orchestrator bundle a dealer installs with install.sh:
#   dist/ctrlable-provisioner-<version>-linux-x64.tar.gz and its .sha256 (sha256sum format).
# Self-contained linux-x64 (no .NET runtime in the container), trimmed (partial) and ReadyToRun (fast start), the SPA built into
# wwwroot, the release manifests, install.sh, host/ (build trigger, first-boot service) and deploy/ (unit,
# in-container setup). Usage: scripts/publish.sh [--version X.Y.Z] [--skip-frontend]
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dist=${CTRLABLE_DIST_DIR:-$repo_root/dist}
version=${CTRLABLE_VERSION:-}
build_frontend=1

while (($# > 0)); do
  case $1 in
    --version)
      (($# >= 2)) || { echo "publish: --version needs a value" >&2; exit 2; }
      version=$2
      shift 2
      ;;
    --skip-frontend) build_frontend=0; shift ;;
    -h | --help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "publish: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

if [[ -z $version ]]; then
  version=$(tr -d '[:space:]' <"$repo_root/VERSION")
fi
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+([-.+][0-9A-Za-z.+-]+)?$ ]] || { echo "publish: version '$version' is not X.Y.Z[-suffix]" >&2; exit 2; }

name="ctrlable-provisioner-$version-linux-x64"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage="$work/$name"
mkdir -p "$stage" "$dist"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
if ((build_frontend)); then
  echo "publish: building the SPA into wwwroot"
  npm --prefix "$repo_root/frontend" run --silent build
fi
[[ -f $repo_root/backend/Ctrlable.Provisioner/wwwroot/index.html ]] || { echo "publish: no SPA in backend/Ctrlable.Provisioner/wwwroot (run without --skip-frontend)" >&2; exit 1; }

echo "publish: dotnet publish (self-contained linux-x64, trimmed, ReadyToRun) $version"
# A separate obj/bin (artifacts path) so the RID-specific restore does not disturb the normal build's.
# Trimmed, partial mode: the framework's trimmable assemblies lose unused code, the app and its packages stay whole
# (memory: backend/bench/README.md "Memory").
dotnet publish "$repo_root/backend/Ctrlable.Provisioner/Ctrlable.Provisioner.csproj" -c Release -r linux-x64 \
  --self-contained true -p:PublishReadyToRun=true -p:PublishTrimmed=true -p:TrimMode=partial -p:Version="$version" \
  --artifacts-path "$work/artifacts" -o "$stage/app" --nologo -v q

cp -r "$repo_root/releases" "$stage/app/releases"
mkdir -p "$stage/host/firstboot" "$stage/deploy"
install -m 0755 "$repo_root/host/ctrlable-build" "$stage/host/ctrlable-build"
install -m 0644 "$repo_root/host/ctrlable-build.conf.example" "$stage/host/ctrlable-build.conf.example"
install -m 0755 "$repo_root/host/firstboot/ctrlable-firstboot.sh" "$stage/host/firstboot/ctrlable-firstboot.sh"
install -m 0644 "$repo_root/host/firstboot/ctrlable-firstboot.service" "$stage/host/firstboot/ctrlable-firstboot.service"
install -m 0644 "$repo_root/deploy/ctrlable-provisioner.service" "$stage/deploy/ctrlable-provisioner.service"
install -m 0755 "$repo_root/deploy/ct-setup.sh" "$stage/deploy/ct-setup.sh"
install -m 0755 "$repo_root/install.sh" "$stage/install.sh"
printf '%s\n' "$version" >"$stage/VERSION"

# Reproducible archive: fixed owner, sorted names, file times of the commit (or now outside git).
mtime=$(git -C "$repo_root" log -1 --format=%cI 2>/dev/null || date -u +%FT%TZ)
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="$mtime" -C "$work" -czf "$dist/$name.tar.gz" "$name"
(cd "$dist" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")
echo "publish: $dist/$name.tar.gz"
echo "publish: $(cat "$dist/$name.tar.gz.sha256")"
