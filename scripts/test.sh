#!/usr/bin/env bash
# Runs every test of the project: frontend checks and Vitest, the .NET build with format check,
# every xunit suite, browser end-to-end tests in Chromium, and shellcheck. Installs what is
# missing first. Exits non-zero on any failure and ends with one line "N passed, N failed".
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
results="${TEST_RESULTS_DIR:-$repo_root/test-results}"
rm -rf "$results" && mkdir -p "$results"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
# Each test app would watch its appsettings.json for changes: an inotify instance apiece, and the default limit (128
# per user) ran out when other test runs shared the machine. No test reloads settings from a changed file.
export DOTNET_hostBuilder__reloadConfigOnChange=false
# openssh-server: the build tests run a real sshd (host trigger); jq: the Proxmox CLI stand-ins and the first-boot
# script (with curl; its tests run it against the orchestrator); git, xz-utils,
# python3, openssl, curl: what host/ctrlable-build and install.sh use on a Proxmox host; systemd: systemd-analyze
# verifies the orchestrator's unit; qemu-utils, e2fsprogs: what ctrlable-build edits the Home Assistant OS disk with (as on a
# Proxmox host); fdisk, dosfstools, mtools: the tests' HAOS disk image and reading it back.
CTRLABLE_APT_PACKAGES="${CTRLABLE_APT_PACKAGES:-shellcheck chromium openssh-server jq git xz-utils python3 openssl curl systemd qemu-utils e2fsprogs fdisk dosfstools mtools}" bash scripts/ensure-deps.sh
# sshd refuses to start without its privilege separation directory.
if [[ $(id -u) -eq 0 ]]; then mkdir -p /run/sshd; fi

passed=0
failed=0
failures=()

# Each step says when it began, so a slow step shows in the log, and how busy the machine's cores were since the step
# before (/proc/stat, every process): a step that leaves cores idle could run beside another; on a shared machine
# the figure shows the other load too.
clk_tck=$(getconf CLK_TCK 2>/dev/null || echo 100)
cpu_busy="" cpu_all=""
cpu_since_last_step() {
  local _ user nice sys idle iowait irq softirq steal busy all
  read -r _ user nice sys idle iowait irq softirq steal _ </proc/stat || return 0
  busy=$((user + nice + sys + irq + softirq + steal)) all=$((user + nice + sys + irq + softirq + steal + idle + iowait))
  if [[ -n $cpu_busy ]] && ((all > cpu_all)); then
    echo "    (since the last step: $(((busy - cpu_busy) / clk_tck)) CPU-seconds, cores $(((busy - cpu_busy) * 100 / (all - cpu_all)))% busy)"
  fi
  cpu_busy=$busy cpu_all=$all
}
step() { cpu_since_last_step; echo; echo "=== $* (at ${SECONDS}s)"; }
fail() { failures+=("$1"); }
# check NAME CMD...: one pass or one failure for a whole step.
check() {
  local name=$1
  shift
  if "$@"; then passed=$((passed + 1)); else fail "$name"; fi
}

step "frontend: generated API types up to date"
check "frontend check:api" npm --prefix frontend run --silent check:api

step "frontend: typecheck"
check "frontend typecheck" npm --prefix frontend run --silent typecheck

# Steps that need nothing the next ones write run beside them (two cores: one step rarely keeps both busy). Each
# writes its own log, printed whole when it is waited for, so the output stays in order.
step "frontend: vitest (beside the builds)"
(cd frontend && npx vitest run --reporter=default --reporter=json --outputFile="$results/vitest.json") >"$results/vitest.log" 2>&1 &
vitest_pid=$!

step "frontend: build into backend wwwroot"
check "frontend build" npm --prefix frontend run --silent build

step "dotnet: build"
check "dotnet build" dotnet build Ctrlable.Provisioner.sln -c Release -warnaserror --nologo -v q

# Whitespace only: the build above already enforces every style and analyzer rule (EnforceCodeStyleInBuild,
# warnings as errors), which a full "dotnet format" would check again at the cost of a second compilation.
step "dotnet: format check"
check "dotnet format" dotnet format whitespace Ctrlable.Provisioner.sln --verify-no-changes -v q

step "frontend: vitest (waited for)"
vitest_ok=0
wait "$vitest_pid" || vitest_ok=$?
cat "$results/vitest.log"
((vitest_ok == 0)) || fail "vitest"
if [[ -f "$results/vitest.json" ]]; then
  passed=$((passed + $(node -e 'const r=require(process.argv[1]);console.log(r.numPassedTests)' "$results/vitest.json")))
  failed=$((failed + $(node -e 'const r=require(process.argv[1]);console.log(r.numFailedTests)' "$results/vitest.json")))
fi

step "dotnet: tests"
# No test may hang the run: one still running after 5 minutes (the slowest take about a minute on a loaded machine)
# gets its test host dumped (a mini dump, which works in this container; see test-results/dotnet) and killed, and the
# run fails naming it. Each test project's xunit.runner.json sets how many tests run at once.
dotnet test Ctrlable.Provisioner.sln -c Release --no-build --nologo \
  --blame-hang-timeout 5m --blame-hang-dump-type mini \
  --logger "trx;LogFilePrefix=tests" --results-directory "$results/dotnet" 2>&1 | tee "$results/dotnet-test.log" || fail "dotnet test"
# Sum the per-assembly summaries ("Failed: 0, Passed: 21, Skipped: 0, ...").
read -r dn_passed dn_failed < <(awk -F'[:,]' '/Passed:.*Failed:|Failed:.*Passed:/ {
    for (i = 1; i <= NF; i++) { gsub(/ /, "", $i); if ($i == "Passed") p += $(i + 1); if ($i ~ /(^|-)Failed$/) f += $(i + 1) } }
  END { print p + 0, f + 0 }' "$results/dotnet-test.log")
passed=$((passed + dn_passed))
failed=$((failed + dn_failed))

# The cluster benchmark at tiny sizes (about 14 s at load average 26): it exits non-zero when the dashboard does not
# group the seeded projects on their nodes, a deploy fails or lands off its pinned node, or a foreign guest changed.
# Its figures are not judged.
step "bench: cluster smoke (3 nodes, 3 projects x 2 guests, 2 viewers for 2 s, emulator at 10 % timings)"
bench_cluster_smoke() {
  timeout 180 dotnet "$repo_root/backend/bench/Ctrlable.Bench/bin/Release/net10.0/Ctrlable.Bench.dll" cluster \
    --projects 3 --guests 2 --viewers 2 --seconds 2 --timing-percent 10 --json 2>"$results/bench-cluster.log"
}
check "bench cluster smoke" bench_cluster_smoke

# The bundle is published into its own artifacts path, so it runs beside the browser tests, which use the build above.
step "bundle: publish once (self-contained, trimmed, ReadyToRun), start it without an SDK, verify its systemd unit (beside the browser tests)"
(CTRLABLE_DIST_DIR="$results/dist" bash scripts/publish.sh --skip-frontend &&
  bash scripts/bundle-check.sh "$results/dist"/ctrlable-provisioner-*-linux-x64.tar.gz) >"$results/bundle.log" 2>&1 &
bundle_pid=$!

step "browser end-to-end (Chromium)"
npm --prefix frontend run --silent e2e 2>&1 | tee "$results/e2e.log" || fail "e2e"
passed=$((passed + $(awk '/^# pass / {n = $3} END {print n + 0}' "$results/e2e.log")))
failed=$((failed + $(awk '/^# fail / {n = $3} END {print n + 0}' "$results/e2e.log")))

step "bundle (waited for)"
bundle_ok=0
wait "$bundle_pid" || bundle_ok=$?
cat "$results/bundle.log"
if ((bundle_ok == 0)); then passed=$((passed + 1)); else fail "bundle"; fi

step "shellcheck"
mapfile -t shell_files < <(git ls-files '*.sh' 'host/ctrlable-build' 'host/testing/*' 'install.sh' '.ci/run' | grep -v '\.env$' | sort -u)
if ((${#shell_files[@]} > 0)); then
  check "shellcheck" shellcheck -x "${shell_files[@]}"
fi

cpu_since_last_step
echo
if ((${#failures[@]} > 0)); then
  echo "Failed steps: ${failures[*]}"
fi
echo "took ${SECONDS}s"
# A step that failed without a failed test to count (a build, a check, an aborted test run) is one failure, so the
# summary and the exit code never call such a run green.
if ((failed == 0)); then failed=${#failures[@]}; fi
echo "$passed passed, $failed failed"
((failed == 0))
