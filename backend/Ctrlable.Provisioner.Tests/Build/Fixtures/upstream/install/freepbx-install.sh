#!/usr/bin/env bash
# Test fixture (see ../README.md): shaped like install/freepbx-install.sh at community-scripts 2026-05-30. Upstream
# downloads and runs Sangoma's installer from its master branch here (not pinned by the build); the fixture stays
# offline and records no app version, as upstream records none.
# shellcheck disable=SC1091,SC2154
source /dev/stdin <<<"$FUNCTIONS_FILE_PATH"
color
verb_ip6
catch_errors
setting_up_container
network_check
update_os

msg_info "Installing FreePBX (Patience)"
mkdir -p "$ROOT/etc/systemd/system"
printf '[Unit]\nDescription=FreePBX\n' >"$ROOT/etc/systemd/system/freepbx.service"
msg_ok "Installed FreePBX"

motd_ssh
customize
cleanup_lxc
cleanup_lxc
