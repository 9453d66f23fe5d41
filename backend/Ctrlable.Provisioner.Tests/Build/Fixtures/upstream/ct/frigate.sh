#!/usr/bin/env bash
# shellcheck disable=SC1090,SC2034
source <(curl -fsSL https://git.community-scripts.org/community-scripts/ProxmoxVE/raw/branch/main/misc/build.func)
# Test fixture (see ../README.md): shaped like ct/frigate.sh at community-scripts 2026-05-30 (same defaults, and
# build.func from the Gitea mirror's main).

APP="Frigate"
var_tags="${var_tags:-nvr}"
var_cpu="${var_cpu:-8}"
var_ram="${var_ram:-4096}"
var_disk="${var_disk:-20}"
var_os="${var_os:-debian}"
var_version="${var_version:-12}"
var_arm64="${var_arm64:-no}"
var_unprivileged="${var_unprivileged:-0}"
var_gpu="${var_gpu:-yes}"

header_info "$APP"
variables
color
catch_errors

function update_script() {
    msg_error "To update Frigate, create a new container and transfer your configuration."
    exit
}

start
build_container
description

msg_ok "Completed successfully!\n"
