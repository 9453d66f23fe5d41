#!/usr/bin/env bash
# Builds the SPA and starts the orchestrator's demo build (backend/Ctrlable.Provisioner.Demo: the product plus the
# Proxmox and Home Assistant emulators) on http://127.0.0.1:5080 with a local SQLite file in ./data. With no Proxmox
# configured it runs against the simulated host; with one it behaves as the product.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

bash scripts/ensure-deps.sh
(cd frontend && npm run --silent build)

export CTRLABLE_STORAGE__DATADIRECTORY="${CTRLABLE_STORAGE__DATADIRECTORY:-$repo_root/data}"
export CTRLABLE_STORAGE__RELEASESDIRECTORY="${CTRLABLE_STORAGE__RELEASESDIRECTORY:-$repo_root/releases}"
exec dotnet run --project backend/Ctrlable.Provisioner.Demo -c Release -- --Urls "${CTRLABLE_URLS:-http://127.0.0.1:5080}" "$@"
