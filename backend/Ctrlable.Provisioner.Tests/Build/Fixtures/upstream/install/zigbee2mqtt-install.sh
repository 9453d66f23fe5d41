#!/usr/bin/env bash
# Test fixture (see ../README.md): shaped like install/zigbee2mqtt-install.sh at community-scripts 2026-05-30.
# shellcheck disable=SC1091,SC2154
source /dev/stdin <<<"$FUNCTIONS_FILE_PATH"
color
verb_ip6
catch_errors
setting_up_container
network_check
update_os

msg_info "Installing Dependencies"
msg_ok "Installed Dependencies"

# Upstream reads the pnpm version from Koenkk/zigbee2mqtt's master package.json here (a moving part the build does
# not pin); the fixture stays offline.
NODE_VERSION="24" NODE_MODULE="pnpm@fixture" setup_nodejs
fetch_and_deploy_gh_release "Zigbee2MQTT" "Koenkk/zigbee2mqtt" "tarball" "latest" "/opt/zigbee2mqtt"

msg_info "Setting up Zigbee2MQTT"
mkdir -p "$ROOT/opt/zigbee2mqtt/data"
echo "network_key: GENERATE" >"$ROOT/opt/zigbee2mqtt/data/configuration.yaml"
msg_ok "Setup Zigbee2MQTT"

msg_info "Creating Service"
mkdir -p "$ROOT/etc/systemd/system"
printf '[Unit]\nDescription=zigbee2mqtt\n' >"$ROOT/etc/systemd/system/zigbee2mqtt.service"
msg_ok "Created Service"

motd_ssh
customize
cleanup_lxc
