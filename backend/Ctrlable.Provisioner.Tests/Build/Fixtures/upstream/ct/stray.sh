#!/usr/bin/env bash
# Test fixture (see ../README.md): ignores the requested container ID, as upstream does when it thinks the
# ID is taken; the build must notice, report the stray container (left in place) and fail the template.
# shellcheck disable=SC1090,SC2034
source <(curl -fsSL https://raw.githubusercontent.com/community-scripts/ProxmoxVE/main/misc/build.func)
APP="Stray"
var_tags="${var_tags:-stray}"
var_cpu="${var_cpu:-1}"
var_ram="${var_ram:-512}"
var_disk="${var_disk:-2}"
var_os="${var_os:-debian}"
var_version="${var_version:-12}"
var_unprivileged="${var_unprivileged:-1}"
unset var_ctid

header_info "$APP"
variables
color
catch_errors
start
build_container
description
msg_ok "Completed successfully!"
