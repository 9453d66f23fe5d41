#!/usr/bin/env bash
# Test fixture (see ../README.md): runs inside the container being built.
# shellcheck disable=SC1091,SC2154
source /dev/stdin <<<"$FUNCTIONS_FILE_PATH"
color
catch_errors
setting_up_container
network_check
update_os

msg_info "Installing Z-Wave JS UI"
mkdir -p "$ROOT/opt/zwave-js-ui"
echo "v9.27.2" >"$ROOT/root/.zwave-js-ui"
printf 'Z-Wave JS UI admin password: %s\n' "fixture-shared-secret" >"$ROOT/root/zwave-js-ui.creds"
echo "ls /opt" >"$ROOT/root/.bash_history"
echo "lease { fixed-address 10.0.0.5; }" >"$ROOT/var/lib/dhcp/dhclient.eth0.leases"
echo "install output" >"$ROOT/root/.install-fixture.log"
msg_ok "Installed Z-Wave JS UI"

motd_ssh
customize
cleanup_lxc
