#!/usr/bin/env bash
# Test fixture (see ../README.md): installs nothing.
# shellcheck disable=SC1091
source /dev/stdin <<<"$FUNCTIONS_FILE_PATH"
color
catch_errors
msg_ok "Installed Concurrent"
