#!/usr/bin/env bash
# Test fixture (see ../README.md): shaped like install/zwave-js-ui-install.sh at community-scripts 2026-05-30, plus
# what clones must not share. Runs inside the container being built.
# shellcheck disable=SC1091,SC2154
source /dev/stdin <<<"$FUNCTIONS_FILE_PATH"
color
verb_ip6
catch_errors
setting_up_container
network_check
update_os

fetch_and_deploy_gh_release "zwave-js-ui" "zwave-js/zwave-js-ui" "prebuild" "latest" "/opt/zwave-js-ui" "zwave-js-ui*-linux.zip"

msg_info "Configuring Z-Wave JS UI"
mkdir -p "$ROOT/opt/zwave_store"
printf 'ZWAVEJS_EXTERNAL_CONFIG=/opt/zwave_store/.config-db\nSTORE_DIR=/opt/zwave_store\n' >"$ROOT/opt/.env"
printf 'Z-Wave JS UI admin password: %s\n' "fixture-shared-secret" >"$ROOT/root/zwave-js-ui.creds"
echo "ls /opt" >"$ROOT/root/.bash_history"
echo "lease { fixed-address 10.0.0.5; }" >"$ROOT/var/lib/dhcp/dhclient.eth0.leases"
echo "install output" >"$ROOT/root/.install-fixture.log"
msg_ok "Configured Z-Wave JS UI"

motd_ssh
customize
cleanup_lxc
