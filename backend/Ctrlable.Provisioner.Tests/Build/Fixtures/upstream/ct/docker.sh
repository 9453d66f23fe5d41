#!/usr/bin/env bash
# shellcheck disable=SC1090,SC2034
source <(curl -fsSL https://raw.githubusercontent.com/community-scripts/ProxmoxVE/main/misc/build.func)
# Test fixture (see ../README.md): shaped like ct/docker.sh at community-scripts 2026-05-30 (same defaults).

APP="Docker"
var_tags="${var_tags:-docker}"
var_cpu="${var_cpu:-2}"
var_ram="${var_ram:-2048}"
var_disk="${var_disk:-4}"
var_os="${var_os:-debian}"
var_version="${var_version:-13}"
var_arm64="${var_arm64:-no}"
var_unprivileged="${var_unprivileged:-1}"

header_info "$APP"
variables
color
catch_errors

function update_script() {
  msg_error "fixture: update_script never runs in a build"
  exit 1
}

start
build_container
description

msg_ok "Completed successfully!\n"
