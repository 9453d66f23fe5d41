#!/usr/bin/env bash
# Test fixture (see ../README.md): fails half-way through the install.
# shellcheck disable=SC1091,SC2154
source /dev/stdin <<<"$FUNCTIONS_FILE_PATH"
color
catch_errors
setting_up_container

msg_info "Installing Broken"
echo "half installed" >"$ROOT/root/.broken"
msg_error "the download of broken 1.0 failed"
exit 3
