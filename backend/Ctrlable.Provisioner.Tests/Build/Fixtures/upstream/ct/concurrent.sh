#!/usr/bin/env bash
# Test fixture (see ../README.md): while it runs, someone else creates a guest (the test's hook waits for it).
# shellcheck disable=SC1090,SC2034
source <(curl -fsSL https://raw.githubusercontent.com/community-scripts/ProxmoxVE/main/misc/build.func)
APP="Concurrent"
var_tags="${var_tags:-concurrent}"
var_cpu="${var_cpu:-1}"
var_ram="${var_ram:-512}"
var_disk="${var_disk:-2}"
var_os="${var_os:-debian}"
var_version="${var_version:-12}"
var_unprivileged="${var_unprivileged:-1}"

header_info "$APP"
variables
color
catch_errors
start
# The test puts this hook on the builders' PATH: it returns once the test has created a guest of its own, as a
# deploy or another admin may do while a builder runs.
if command -v ctrlable-fixture-hook >/dev/null 2>&1; then ctrlable-fixture-hook "$APP"; fi
build_container
description
msg_ok "Completed successfully!"
