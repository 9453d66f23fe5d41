#!/usr/bin/env bash
# Test fixture (see ../README.md): an upstream-shaped ct script.
# shellcheck disable=SC1090,SC2034
source <(curl -fsSL https://raw.githubusercontent.com/community-scripts/ProxmoxVE/main/misc/build.func)
APP="Broken"
var_tags="${var_tags:-broken}"
var_cpu="${var_cpu:-2}"
var_ram="${var_ram:-1024}"
var_disk="${var_disk:-4}"
var_os="${var_os:-debian}"
var_version="${var_version:-12}"
var_unprivileged="${var_unprivileged:-0}"

header_info "$APP"
variables
color
catch_errors
start
build_container
description
msg_ok "Completed successfully!"
