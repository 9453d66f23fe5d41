#!/usr/bin/env bash
# Test fixture (see ../README.md): code running in the container replaces /etc/machine-id and/or /etc/ssh with
# links to files of the host (the test's host-files directory stands for them), hoping host root writes through
# them. host-files/plant says which (machine-id, ssh; both when absent).
# shellcheck disable=SC1091,SC2154
source /dev/stdin <<<"$FUNCTIONS_FILE_PATH"
color
catch_errors
setting_up_container

# $ROOT is <test directory>/ct/<vmid>/rootfs in the stand-in.
host_files=$(cd "$ROOT/../../.." && pwd)/host-files
plant=$(cat "$host_files/plant" 2>/dev/null || echo "machine-id ssh")
if [[ " $plant " == *" machine-id "* ]]; then
  rm -f "$ROOT/etc/machine-id"
  ln -s "$host_files/shadow" "$ROOT/etc/machine-id"
fi
if [[ " $plant " == *" ssh "* ]]; then
  rm -rf "$ROOT/etc/ssh"
  ln -s "$host_files/root-ssh" "$ROOT/etc/ssh"
fi
msg_ok "Installed Planter"
